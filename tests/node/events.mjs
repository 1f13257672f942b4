// Listen with Node's QueueEvents until `terminalCount` jobs have finished for good, or timeoutMs.
// A 'failed' event is written by moveToFinished only for a final failure (a retry emits 'waiting'
// or 'delayed' instead), so completed + failed counts each finished job once, whatever its attempts.
// Prints READY once listening, then one JSON line {"events": [...], "timedOut": bool}.
import { QueueEvents } from 'bullmq';
import IORedis from 'ioredis';

const [url, queueName, terminalCount, timeoutMs] = process.argv.slice(2);
const connection = new IORedis(url, { maxRetriesPerRequest: null });
const qe = new QueueEvents(queueName, { connection, lastEventId: '$' });
const events = [];
let terminal = 0;
let finish;
const done = new Promise((resolve) => (finish = resolve));
for (const name of ['completed', 'failed', 'active', 'waiting', 'delayed', 'progress', 'retries-exhausted',
  'stalled', 'added', 'drained']) {
  qe.on(name, (args) => {
    events.push({ event: name, ...args });
    if (name === 'completed' || name === 'failed') {
      terminal += 1;
      if (terminal >= Number(terminalCount)) finish(false);
    }
  });
}
await qe.waitUntilReady();
process.stdout.write('READY\n');
const timer = setTimeout(() => finish(true), Number(timeoutMs));
const timedOut = await done;
clearTimeout(timer);
await qe.close();
await connection.quit();
console.log(JSON.stringify({ events, timedOut }));
