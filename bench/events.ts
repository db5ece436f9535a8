// Parse + validate throughput of packages/events (compiled ajv validators), bounded in count and time.
import { BookingReserved, newEnvelope, parseEnvelope } from '@albergue/events';
import { SAMPLE_PAYLOADS } from '@albergue/events/node';
import { reportResult } from './lib/report.js';

export async function benchEvents(): Promise<Record<string, number>> {
  const json = JSON.stringify(newEnvelope(BookingReserved, SAMPLE_PAYLOADS.BookingReserved));
  const N = 100_000;
  const deadline = Date.now() + 20_000;
  // Baseline: JSON.parse alone, same input.
  let t = process.hrtime.bigint();
  let n = 0;
  for (; n < N && Date.now() < deadline; n++) JSON.parse(json);
  const rawRate = n / (Number(process.hrtime.bigint() - t) / 1e9);
  t = process.hrtime.bigint();
  let m = 0;
  for (; m < N && Date.now() < deadline; m++) {
    const r = parseEnvelope(json);
    if (!r.ok) throw new Error(r.reason);
  }
  const rate = m / (Number(process.hrtime.bigint() - t) / 1e9);
  console.log(
    `events: JSON.parse ${Math.round(rawRate).toLocaleString('en')}/s; parseEnvelope (parse+validate+freeze, ${json.length} B) ${Math.round(rate).toLocaleString('en')}/s; ratio ${(rate / rawRate).toFixed(2)}`,
  );
  reportResult({
    id: 'P6-parse-validate-freeze',
    ratio: rate / rawRate,
    goal: '>= 0.5',
    measured: rate,
    baseline: rawRate,
    detail: 'envelopes/s vs JSON.parse',
  });
  return await Promise.resolve({ rawRate, rate });
}

if (import.meta.url === `file://${process.argv[1]}`) await benchEvents();
