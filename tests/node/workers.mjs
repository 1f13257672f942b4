// Node's view of who works a queue, and BullMQ's per-minute metrics.
import { Queue } from 'bullmq';
import IORedis from 'ioredis';

const [url, queueName] = process.argv.slice(2);
const connection = new IORedis(url, { maxRetriesPerRequest: null });
const queue = new Queue(queueName, { connection });
const out = {
  workers: await queue.getWorkers(),
  metricsCompleted: await queue.getMetrics('completed'),
  metricsFailed: await queue.getMetrics('failed'),
};
await queue.close();
await connection.quit();
console.log(JSON.stringify(out));
