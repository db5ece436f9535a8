// The Redis delivery ledger on one redis-server vs a three-master Redis Cluster (issue 18), bounded in
// count and time: `npm run bench -- ledger-cluster`. Both are private servers this bench starts on
// loopback. Per round, SUBSCRIBERS consumers (their own slots) each record MESSAGES in batches of
// BATCH, lease them in batches and ack them (the consumer's path: one round trip per batch per call),
// all subscribers concurrently. Rounds alternate standalone and cluster; each side keeps its best.
// The figure is the cluster's rate as a ratio of the standalone rate in the same run.
import { RedisDeliveryLedger } from '@albergue/messaging';
import { startRedisCluster, startRedisServer } from '@albergue/messaging/testing';

const MESSAGES = Number(process.env.BENCH_LEDGER_MESSAGES ?? 10_000); // per subscriber and round
const SUBSCRIBERS = Number(process.env.BENCH_LEDGER_SUBSCRIBERS ?? 6);
const BATCH = 500;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const deadline = Date.now() + 5 * 60_000;
const topic = 'albergue.booking.v1.BookingReserved';
const body = JSON.stringify({ event_id: 'x', payload: 'p'.repeat(1000) });

async function round(url: string, label: string, n: number): Promise<number> {
  const ledger = new RedisDeliveryLedger({ url, namespace: `bench_${label}_${n}:` });
  try {
    const started = performance.now();
    await Promise.all(
      Array.from({ length: SUBSCRIBERS }, async (_, s) => {
        const sub = `bench-svc-${s}`;
        for (let i = 0; i < MESSAGES; i += BATCH) {
          const batch = Array.from({ length: Math.min(BATCH, MESSAGES - i) }, (_, j) => ({ topic, eventId: `${n}-${i + j}`, body }));
          await ledger.record(sub, batch);
        }
        for (let done = 0; done < MESSAGES;) {
          if (Date.now() > deadline) throw new Error('bench deadline passed');
          const leased = await ledger.lease(sub, BATCH);
          if (leased.length === 0) throw new Error(`${sub}: nothing to lease after ${done} of ${MESSAGES}`);
          await ledger.ackMany(leased);
          done += leased.length;
        }
      }),
    );
    return (SUBSCRIBERS * MESSAGES) / ((performance.now() - started) / 1000);
  } finally {
    await ledger.close();
  }
}

const single = await startRedisServer();
const cluster = await startRedisCluster({ masters: 3 });
try {
  const best = { single: 0, cluster: 0 };
  for (let r = 0; r < ROUNDS && Date.now() < deadline; r++) {
    const s = await round(single.url, 'single', r);
    const c = await round(cluster.url, 'cluster', r);
    best.single = Math.max(best.single, s);
    best.cluster = Math.max(best.cluster, c);
    console.log(`round ${r + 1}: one redis-server ${Math.round(s)} msg/s, 3-master cluster ${Math.round(c)} msg/s`);
  }
  console.log(
    `ledger record+lease+ack, ${SUBSCRIBERS} subscribers × ${MESSAGES} × 1 KB, batches of ${BATCH}: ` +
      `cluster / one server = ${(best.cluster / best.single).toFixed(2)} (best ${Math.round(best.cluster)} vs ${Math.round(best.single)} msg/s)`,
  );
} finally {
  await cluster.stop();
  await single.stop();
}
