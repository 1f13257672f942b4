// A reference Node BullMQ 6 worker with a no-op processor, for side-by-side runs and benchmarks.
// Exits after `stopAfter` jobs; prints {"processed", "seconds"} from the first job's start to the last.
// An optional fifth argument records BullMQ's per-minute metrics with that many data points, as corral does.
import { Worker } from 'bullmq';
import IORedis from 'ioredis';

const [url, queueName, concurrency, stopAfter, metricsPoints] = process.argv.slice(2);
const connection = new IORedis(url, { maxRetriesPerRequest: null });
let processed = 0;
let first = 0;
let finish;
const done = new Promise((resolve) => (finish = resolve));
const worker = new Worker(queueName, async () => {
  if (!first) first = performance.now();
  return null;
}, {
  connection,
  concurrency: Number(concurrency),
  ...(Number(metricsPoints) > 0 ? { metrics: { maxDataPoints: Number(metricsPoints) } } : {}),
});
worker.on('completed', () => {
  processed += 1;
  if (processed >= Number(stopAfter)) finish();
});
await done;
const seconds = (performance.now() - first) / 1000;
await worker.close();
await connection.quit();
console.log(JSON.stringify({ processed, seconds }));
