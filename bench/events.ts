// Parse + validate throughput of packages/events (compiled ajv validators), bounded in count and time.
// Goal P6: parse + validate + freeze ≥ 0.5 × JSON.parse on the same bytes. Rounds alternate the
// baseline and ours and keep each side's best, timed in CPU seconds: the machine is shared and noisy.
import { BookingReserved, newEnvelope, parseEnvelope } from '@albergue/events';
import { SAMPLE_PAYLOADS } from '@albergue/events/node';
import { reportResult } from './lib/report.js';

const ROUNDS = 5;
const PER_ROUND = 20_000;

/** Operations per second of this process's CPU time (less disturbed by other processes than wall time). */
function rate(n: number, f: () => void): number {
  const t = process.cpuUsage();
  for (let i = 0; i < n; i++) f();
  const used = process.cpuUsage(t);
  return n / ((used.user + used.system) / 1e6);
}

export async function benchEvents(): Promise<Record<string, number>> {
  const json = JSON.stringify(newEnvelope(BookingReserved, SAMPLE_PAYLOADS.BookingReserved));
  const ours = (): void => {
    const r = parseEnvelope(json);
    if (!r.ok) throw new Error(r.reason);
  };
  // Warm both paths (JIT, the lazily compiled validator) before measuring.
  rate(2000, () => void JSON.parse(json));
  rate(2000, ours);
  let rawRate = 0;
  let ourRate = 0;
  const deadline = Date.now() + 30_000;
  for (let round = 0; round < ROUNDS && Date.now() < deadline; round++) {
    rawRate = Math.max(
      rawRate,
      rate(PER_ROUND, () => void JSON.parse(json)),
    );
    ourRate = Math.max(ourRate, rate(PER_ROUND, ours));
  }
  console.log(
    `events: JSON.parse ${Math.round(rawRate).toLocaleString('en')}/s; parseEnvelope (parse+validate+freeze, ${json.length} B) ${Math.round(ourRate).toLocaleString('en')}/s; ratio ${(ourRate / rawRate).toFixed(2)} (goal ≥ 0.5; best of ${ROUNDS} alternating rounds)`,
  );
  reportResult({
    id: 'P6-parse-validate-freeze',
    ratio: ourRate / rawRate,
    goal: '>= 0.5',
    measured: ourRate,
    baseline: rawRate,
    detail: 'envelopes/s vs JSON.parse (CPU time)',
  });
  return await Promise.resolve({ rawRate, rate: ourRate });
}

if (import.meta.url === `file://${process.argv[1]}`) await benchEvents();
