// Node BullMQ 6's getWorkers() on a Redis Cluster, through an ioredis Cluster client.
//   node workers_cluster.mjs HOST:PORT[,HOST:PORT...] PREFIX QUEUE [QUEUE...]
// Prints {"workers": {queue: [the client names it matched (rawname)]}}.
import { Queue } from 'bullmq';
import { Cluster } from 'ioredis';

const [seeds, prefix, ...queues] = process.argv.slice(2);
const nodes = seeds.split(',').map((s) => {
  const [host, port] = s.split(':');
  return { host, port: Number(port) };
});
const connection = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: null } });
const workers = {};
for (const name of queues) {
  const queue = new Queue(name, { connection, prefix });
  workers[name] = (await queue.getWorkers()).map((w) => w.rawname);
  await queue.close();
}
await connection.quit();
console.log(JSON.stringify({ workers }));
