// A Node BullMQ 6 Worker running the conformance processor with a scenario's worker options.
// Usage: node worker.mjs URL QUEUE SCENARIO. Runs until killed (or until a job kills it: crashOnce).
import { Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';
import { makeProcessor } from './interpret.mjs';
import { scenarios } from './scenarios.mjs';

const [url, queueName, scenarioName] = process.argv.slice(2);
const scenario = scenarios[scenarioName];
const connection = new IORedis(url, { maxRetriesPerRequest: null });
const queue = new Queue(queueName, { connection });
const ctx = { connection, queueName, queue, worker: null };
const worker = new Worker(queueName, (job, token) => makeProcessor(ctx)(job, token), {
  connection, ...scenario.worker,
});
ctx.worker = worker;
worker.on('error', (err) => console.error('worker error:', err.message));
process.on('SIGTERM', async () => {
  await worker.close(true);
  await queue.close();
  await connection.quit();
  process.exit(0);
});
await worker.waitUntilReady();
process.stdout.write('READY\n');
