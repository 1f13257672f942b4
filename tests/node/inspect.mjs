// What Node sees of some jobs: Job.fromId + getState, and the queue's counts.
import { Job, Queue } from 'bullmq';
import IORedis from 'ioredis';

const [url, queueName, ...ids] = process.argv.slice(2);
const connection = new IORedis(url, { maxRetriesPerRequest: null });
const queue = new Queue(queueName, { connection });
const jobs = {};
for (const id of ids) {
  const job = await Job.fromId(queue, id);
  jobs[id] = job ? {
    name: job.name, data: job.data, opts: job.opts, returnvalue: job.returnvalue,
    failedReason: job.failedReason, stacktrace: job.stacktrace, attemptsMade: job.attemptsMade,
    attemptsStarted: job.attemptsStarted, processedOn: job.processedOn, finishedOn: job.finishedOn,
    progress: job.progress, processedBy: job.processedBy, state: await job.getState(),
    logs: (await queue.getJobLogs(id)).logs,
  } : null;
}
const counts = await queue.getJobCounts();
await queue.close();
await connection.quit();
console.log(JSON.stringify({ jobs, counts }));
