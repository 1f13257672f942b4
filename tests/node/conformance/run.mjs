// Run one conformance scenario and print what an observer sees.
// Usage: node run.mjs URL QUEUE SCENARIO MODE
//   MODE "node":     after producing, start Node BullMQ 6 Workers (worker.mjs, restarted if a job kills one).
//   MODE "external": after producing, print PRODUCED and let someone else (corral) consume.
//   MODE "describe": print the scenario's worker options and exit.
// Protocol on stdout: PRODUCED (jobs are in), SETTLED (the scenario's done condition held), then, once a line
// arrives on stdin (external mode: the consumer has been stopped), one JSON line of facts.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { FlowProducer, Queue, QueueEvents, Worker } from 'bullmq';
import IORedis from 'ioredis';
import { scenarios } from './scenarios.mjs';

const [url, queueName, scenarioName, mode] = process.argv.slice(2);
const scenario = scenarios[scenarioName];
if (!scenario) {
  console.error(`unknown scenario ${scenarioName}`);
  process.exit(2);
}
if (mode === 'describe') {
  console.log(JSON.stringify({ worker: scenario.worker }));
  process.exit(0);
}

const TIMEOUT_MS = 60_000;
const connection = new IORedis(url, { maxRetriesPerRequest: null });
const queue = new Queue(queueName, { connection });
const flow = new FlowProducer({ connection });
const qe = new QueueEvents(queueName, { connection: new IORedis(url, { maxRetriesPerRequest: null }), autorun: false });
const [last] = await connection.xrevrange(qe.keys.events, '+', '-', 'COUNT', 1);
qe.opts.lastEventId = last ? last[0] : '0-0';
const events = [];
const state = { terminal: 0 };
for (const name of ['added', 'waiting', 'active', 'progress', 'completed', 'failed', 'delayed', 'stalled',
  'retries-exhausted', 'waiting-children', 'duplicated', 'deduplicated', 'removed']) {
  qe.on(name, (args) => {
    events.push({ event: name, ...args });
    if (name === 'completed' || name === 'failed') state.terminal += 1;
  });
}
qe.run().catch((err) => {
  console.error(err);
  process.exit(1);
});
await qe.waitUntilReady();

async function ghostTake(lockDuration) {
  // A worker that takes one job and vanishes without a word: its lock expires, nobody renews it.
  const ghost = new Worker(queueName, null, { connection: new IORedis(url, { maxRetriesPerRequest: null }),
    autorun: false, lockDuration, name: 'ghost' });
  const job = await ghost.getNextJob('ghost-token', { block: false });
  if (!job) throw new Error('the ghost found no job to take');
  await ghost.close(true);
}

await scenario.produce({ queue, flow, name: queueName, connection, ghostTake });
process.stdout.write('PRODUCED\n');

let child = null;
let stopping = false;
function startWorker() {
  child = spawn(process.execPath, [new URL('./worker.mjs', import.meta.url).pathname, url, queueName, scenarioName],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  child.on('exit', () => {
    if (!stopping) startWorker(); // a job killed it: a process manager would start another
  });
}
if (mode === 'node') startWorker();

const deadline = Date.now() + TIMEOUT_MS;
while (!scenario.done(state) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
const timedOut = !scenario.done(state);
await new Promise((r) => setTimeout(r, scenario.settle ?? 300));
process.stdout.write('SETTLED\n');

if (child) {
  stopping = true;
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGTERM');
  await exited;
} else {
  // external: wait for the consumer to be stopped
  const rl = createInterface({ input: process.stdin });
  await new Promise((r) => rl.once('line', r));
  rl.close();
}

const jobs = [];
const byId = {};
for (const job of await queue.getJobs(['completed', 'failed', 'delayed', 'wait', 'active', 'waiting-children',
  'prioritized', 'paused'])) {
  if (!job) continue;
  byId[job.id] = job.name;
  jobs.push({
    name: job.name, state: await job.getState(), attemptsMade: job.attemptsMade, attemptsStarted: job.attemptsStarted,
    stalledCounter: job.stalledCounter, failedReason: job.failedReason ?? null, returnvalue: job.returnvalue ?? null,
    data: job.data, progress: job.progress, logs: (await queue.getJobLogs(job.id)).logs,
    processedOn: job.processedOn ?? null, finishedOn: job.finishedOn ?? null, repeatJobKey: job.repeatJobKey ?? null,
    parentKey: job.parentKey ? 'yes' : null,
  });
}
const schedulers = (await queue.getJobSchedulers()).map((s) => ({ key: s.key, name: s.name,
  iterationCount: s.iterationCount ?? null, limit: s.limit ?? null, every: s.every ?? null,
  pattern: s.pattern ?? null }));
const runs = await connection.hgetall(`conf:runs:${queueName}`);
const counts = await queue.getJobCounts();
await qe.close();
await flow.close();
await queue.close();
await connection.quit();
console.log(JSON.stringify({
  timedOut, jobs, schedulers, runs, counts,
  events: events.map((e) => ({ ...e, name: byId[e.jobId] ?? null })),
}));
process.exit(0);
