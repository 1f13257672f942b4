// The conformance processor for a Node BullMQ 6 Worker: runs `job.data.steps`, as tests/conformance_procs.py
// does for corral. Every run is counted in Redis (hash `conf:runs:<queue>`, by job name).
import { DelayedError, RateLimitError, UnrecoverableError, WaitingChildrenError, WaitingError } from 'bullmq';

export function makeProcessor({ connection, queueName, queue, worker }) {
  return async (job, token) => {
    const runs = await connection.hincrby(`conf:runs:${queueName}`, job.name, 1);
    let result = null;
    for (const s of job.data.steps || []) {
      switch (s.op) {
        case 'return':
          result = s.value;
          break;
        case 'fail':
          throw new Error(s.message);
        case 'failUntil':
          if (job.attemptsMade < s.attempts) throw new Error(`${s.message} ${job.attemptsMade + 1}`);
          break;
        case 'unrecoverable':
          throw new UnrecoverableError(s.message);
        case 'progress':
          await job.updateProgress(s.value);
          break;
        case 'log':
          await job.log(s.line);
          break;
        case 'sleep':
          await new Promise((r) => setTimeout(r, s.ms));
          break;
        case 'updateData':
          await job.updateData({ ...job.data, ...s.data });
          break;
        case 'childrenValues':
          result = Object.values((await job.getChildrenValues()) || {}).sort();
          break;
        case 'ignoredFailures':
          result = Object.values((await job.getIgnoredChildrenFailures()) || {}).sort();
          break;
        case 'extendLock':
          result = await job.extendLock(token, s.ms);
          break;
        case 'delayOnce':
          if (!job.data.delayed) {
            await job.updateData({ ...job.data, delayed: true });
            await job.moveToDelayed(Date.now() + s.ms, token);
            throw new DelayedError();
          }
          break;
        case 'waitOnce':
          if (!job.data.waited) {
            await job.updateData({ ...job.data, waited: true });
            await job.moveToWait(token);
            throw new WaitingError();
          }
          break;
        case 'rateLimitOnce':
          if (!job.data.limited) {
            await job.updateData({ ...job.data, limited: true });
            await worker.rateLimit(s.ms);
            throw new RateLimitError();
          }
          break;
        case 'addJob':
          await queue.add(s.name, { steps: [{ op: 'return', value: 'added' }] });
          break;
        case 'addChildOnce':
          if (!job.data.spawned) {
            await job.updateData({ ...job.data, spawned: true });
            await queue.add(s.child, { steps: [{ op: 'sleep', ms: 200 }, { op: 'return', value: 'late' }] },
              { parent: { id: job.id, queue: job.queueQualifiedName } });
          }
          break;
        case 'addChildAndWait':
          if (!job.data.spawned) {
            await job.updateData({ ...job.data, spawned: true });
            await queue.add(s.child, { steps: [{ op: 'return', value: 'from child' }] },
              { parent: { id: job.id, queue: job.queueQualifiedName } });
            if (await job.moveToWaitingChildren(token)) throw new WaitingChildrenError();
          }
          break;
        case 'crashOnce':
          if (runs === 1) process.kill(process.pid, 'SIGKILL');
          break;
        default:
          throw new Error(`unknown step ${s.op}`);
      }
    }
    return result;
  };
}
