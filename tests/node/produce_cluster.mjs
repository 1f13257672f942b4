// Add jobs with Node BullMQ 6 to a Redis Cluster through an ioredis Cluster client.
//   node produce_cluster.mjs HOST:PORT[,HOST:PORT...] PREFIX COUNT QUEUE [QUEUE...]
// Adds COUNT jobs to each queue (half with addBulk, half one by one, every third with a priority);
// prints {"ids": {queue: [job ids]}}.
import { Queue } from 'bullmq';
import { Cluster } from 'ioredis';

const [seeds, prefix, count, ...queues] = process.argv.slice(2);
const nodes = seeds.split(',').map((s) => {
  const [host, port] = s.split(':');
  return { host, port: Number(port) };
});
const connection = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: null } });
const ids = {};
for (const name of queues) {
  const queue = new Queue(name, { connection, prefix });
  const n = Number(count);
  const half = Math.floor(n / 2);
  const bulk = await queue.addBulk(
    Array.from({ length: half }, (_, i) => ({ name: 'noop', data: { i, queue: name } })));
  ids[name] = bulk.map((j) => j.id);
  for (let i = half; i < n; i++) {
    const job = await queue.add('noop', { i, queue: name }, i % 3 === 0 ? { priority: 1 + (i % 5) } : {});
    ids[name].push(job.id);
  }
  await queue.close();
}
await connection.quit();
console.log(JSON.stringify({ ids }));
