// Add jobs with Node BullMQ 6: reads [{name, data, opts}] as JSON on stdin, prints {"ids": [...]}.
import { Queue } from 'bullmq';
import IORedis from 'ioredis';

const [url, queueName] = process.argv.slice(2);
const input = JSON.parse(await new Promise((resolve) => {
  let buf = '';
  process.stdin.on('data', (c) => (buf += c)).on('end', () => resolve(buf));
}));
const connection = new IORedis(url, { maxRetriesPerRequest: null });
const queue = new Queue(queueName, { connection });
const ids = [];
for (const { name, data, opts } of input) {
  ids.push((await queue.add(name, data, opts || {})).id);
}
await queue.close();
await connection.quit();
console.log(JSON.stringify({ ids }));
