// Add one job with Node BullMQ 6, as a producer service would, and wait for corral to finish it.
//   npm install --prefix scripts/node          (once: bullmq 6 and ioredis, from scripts/node/package.json)
//   node scripts/node/push.mjs QUEUE '{"some": "data"}' [NAME]
// Redis: $REDIS_URL, else the daemon's embedded server (127.0.0.1:6380, password from data/redis/password here, else
// from this checkout's data/redis/password).
// Prints the job's id, then its return value (exit 0) or its failure reason (exit 1); exit 2 if Redis refuses
// the login or cannot be reached.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Queue, QueueEvents } from 'bullmq';
import IORedis from 'ioredis';

const [queueName, json, name = 'hello'] = process.argv.slice(2);
if (!queueName || json === undefined) {
  console.error("usage: node scripts/node/push.mjs QUEUE '{\"some\": \"data\"}' [NAME]");
  process.exit(2);
}
// The embedded server's password: ./data/redis when the daemon runs here, else this checkout's data/redis
// (scripts/run.sh starts the daemon in the checkout, whichever folder it was called from).
const here = 'data/redis/password';
const passwordFile = existsSync(here) ? here : fileURLToPath(new URL('../../data/redis/password', import.meta.url));
const password = existsSync(passwordFile) ? readFileSync(passwordFile, 'utf8').trim() : '';
const url = process.env.REDIS_URL || `redis://${password ? `:${password}@` : ''}127.0.0.1:6380/0`;
// A login refused is named here, before BullMQ's scripts would fail with a protocol error (a probe connection: the
// producer's own one closes on a failed ready check).
const probe = new IORedis(url, { lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: null });
let cause = null;  // the connection's error (AUTH's reply, a refused connect): connect() only says it closed
probe.on('error', (err) => { cause = err; });
try {
  await probe.connect();
  await probe.ping();
} catch (err) {
  const refused = [err, cause].find((e) => e && /NOAUTH|WRONGPASS|invalid password/i.test(e.message));
  if (!refused) {
    console.error(`cannot reach Redis (${(cause ?? err).message}): is the daemon running? (scripts/run.sh starts it)`);
    process.exit(2);
  }
  const found = process.env.REDIS_URL ? 'the password in $REDIS_URL was sent'
    : existsSync(passwordFile) ? `the password in ${passwordFile} was sent` : `there is no ${passwordFile}`;
  console.error(`Redis refused the login (${refused.message}): ${found}. Run this in the folder the daemon runs in, ` +
    'or give the password in REDIS_URL: redis://:PASSWORD@HOST:PORT/0');
  process.exit(2);
} finally {
  probe.disconnect();
}
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
