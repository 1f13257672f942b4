// Listen with Node's QueueEvents until `terminalCount` jobs have finished for good, or timeoutMs passes.
// Prints READY as its first stdout line once listening, then one JSON line {"events": [...], "timedOut": bool}.
//
// What counts as terminal (checked against BullMQ 6.7's Lua): the stream event 'failed' is written only by
// moveToFinished, i.e. for a final failure; a failed attempt that will be retried goes through retryJob
// (emits 'waiting') or moveToDelayed (emits 'delayed') instead. 'retries-exhausted' is written by
// moveToFinished right after 'failed', but only when attemptsMade >= opts.attempts, so it is missing for an
// UnrecoverableError or a discarded job with attempts left. Hence terminal = 'completed' + 'failed': each
// finished job counts exactly once, for attempts=1 and attempts>1 alike; 'retries-exhausted' is recorded
// but never counted (it would count a job twice).
import { QueueEvents } from 'bullmq';
import IORedis from 'ioredis';

const [url, queueName, terminalCount, timeoutMs] = process.argv.slice(2);
const connection = new IORedis(url, { maxRetriesPerRequest: null });
const qe = new QueueEvents(queueName, { connection, autorun: false });
// Start from the stream's current last entry rather than '$': QueueEvents issues its first XREAD some time
// after waitUntilReady(), and with '$' an event written in between (right after READY) would be lost.
const [last] = await connection.xrevrange(qe.keys.events, '+', '-', 'COUNT', 1);
qe.opts.lastEventId = last ? last[0] : '0-0';

const events = [];
let terminal = 0;
let finish;
const done = new Promise((resolve) => (finish = resolve));
for (const name of ['completed', 'failed', 'active', 'waiting', 'delayed', 'progress', 'retries-exhausted',
  'stalled', 'added', 'drained']) {
  qe.on(name, (args, id) => {
    // 'drained' is emitted with the stream id alone, every other event with ({jobId, ...}, id).
    events.push(typeof args === 'string' ? { event: name, eventId: args } : { event: name, ...args, eventId: id });
    if (name === 'completed' || name === 'failed') {
      terminal += 1;
      if (terminal >= Number(terminalCount)) finish(false);
    }
  });
}
qe.on('error', (err) => console.error('QueueEvents error:', err));
qe.run().catch((err) => {
  console.error(err);
  process.exit(1);
});
await qe.waitUntilReady();
process.stdout.write('READY\n');
if (Number(terminalCount) <= 0) finish(false);
const timer = setTimeout(() => finish(true), Number(timeoutMs));
const timedOut = await done;
clearTimeout(timer);
await qe.close();
await connection.quit();
console.log(JSON.stringify({ events, timedOut }));
