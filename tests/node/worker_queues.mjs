// A reference Node BullMQ 6 worker process serving several queues, on one Redis or a Redis Cluster, for benchmarks
// (scripts/bench_cluster.py). One no-op Worker per queue, sharing the process's connection, as an application would.
//   node worker_queues.mjs URL PREFIX CONCURRENCY METRICS_POINTS QUEUE [QUEUE...]
// URL: redis://... for one server, redis+cluster://HOST:PORT[,HOST:PORT...] (corral's form) for a cluster through an
// ioredis Cluster. METRICS_POINTS > 0 records BullMQ's per-minute metrics, as corral does by default.
// Prints READY once every Worker is connected; runs until SIGTERM, then closes its Workers and exits 0.
import { Worker } from 'bullmq';
import IORedis, { Cluster } from 'ioredis';

const [url, prefix, concurrency, metricsPoints, ...queues] = process.argv.slice(2);
if (!url || queues.length === 0) {
  console.error('usage: node worker_queues.mjs URL PREFIX CONCURRENCY METRICS_POINTS QUEUE [QUEUE...]');
  process.exit(2);
}

function connect(target) {
  const options = { maxRetriesPerRequest: null };
  if (!target.startsWith('redis+cluster://')) return new IORedis(target, options);
  const nodes = target.slice('redis+cluster://'.length).split(',').map((s) => {
    const [host, port] = s.split(':');
    return { host, port: Number(port) };
  });
  return new Cluster(nodes, { redisOptions: options });
}

const connection = connect(url);
const metrics = Number(metricsPoints) > 0 ? { metrics: { maxDataPoints: Number(metricsPoints) } } : {};
const workers = queues.map((name) => new Worker(name, async () => null, {
  connection, prefix, concurrency: Number(concurrency), ...metrics,
}));
await Promise.all(workers.map((w) => w.waitUntilReady()));
console.log('READY');

process.on('SIGTERM', async () => {
  await Promise.all(workers.map((w) => w.close()));
  await connection.quit();
  process.exit(0);
});
