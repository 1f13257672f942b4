// Add one job with Node BullMQ 6, as a producer service would, and wait for corral to finish it.
//   npm install --prefix scripts/node          (once: bullmq 6 and ioredis, from scripts/node/package.json)
//   node scripts/node/push.mjs QUEUE '{"some": "data"}' [NAME]
// Redis: $REDIS_URL, else the daemon's embedded server (127.0.0.1:6380, password from data/redis/password).
// Prints the job's id, then its return value (exit 0) or its failure reason (exit 1).
import { existsSync, readFileSync } from 'node:fs';
import { Queue, QueueEvents } from 'bullmq';
import IORedis from 'ioredis';

const [queueName, json, name = 'hello'] = process.argv.slice(2);
if (!queueName || json === undefined) {
  console.error("usage: node scripts/node/push.mjs QUEUE '{\"some\": \"data\"}' [NAME]");
  process.exit(2);
}
const passwordFile = 'data/redis/password';
const password = existsSync(passwordFile) ? readFileSync(passwordFile, 'utf8').trim() : '';
const url = process.env.REDIS_URL || `redis://${password ? `:${password}@` : ''}127.0.0.1:6380/0`;
const connection = new IORedis(url, { maxRetriesPerRequest: null });

const queue = new Queue(queueName, { connection });
// The events stream's newest id before the job is added: QueueEvents reads on from it, so the job's "completed"
// cannot pass between waitUntilFinished's first look at the job and QueueEvents' first read of the stream (from "$",
// its default: a job finished within those milliseconds was never reported, and the wait timed out).
const newest = await connection.xrevrange(queue.keys.events, '+', '-', 'COUNT', 1);
const lastEventId = newest.length ? newest[0][0] : '0-0';
const events = new QueueEvents(queueName, { connection: connection.duplicate(), lastEventId });
await events.waitUntilReady();
const job = await queue.add(name, JSON.parse(json), { removeOnComplete: 1000, removeOnFail: 5000 });
console.log(`added job ${job.id} to ${queueName}`);
let code = 0;
try {
  console.log(`completed: ${JSON.stringify(await job.waitUntilFinished(events, 30_000))}`);
} catch (err) {
  console.log(`failed: ${err.message}`);
  code = 1;
}
await Promise.all([queue.close(), events.close()]);
await connection.quit();
process.exit(code);
