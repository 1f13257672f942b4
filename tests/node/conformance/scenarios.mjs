// Conformance scenarios: the same Node producer code consumed once by a Node BullMQ 6 Worker and once by corral.
//
// A scenario has `worker` options (both consumers get the same: concurrency, lockDuration, stalledInterval,
// maxStalledCount, limiter, maxStartedAttempts), a `produce(ctx)` that adds its jobs with Node's Queue and
// FlowProducer, and a `done(state)` that says when the run is over (from the events seen so far). Jobs carry their
// behaviour in `data.steps`, which tests/node/conformance/interpret.mjs (Node) and tests/conformance_procs.py
// (corral) both run, step for step. Job names are unique within a scenario: facts are compared by job name,
// since flow children get random ids.

const step = (op, more = {}) => ({ op, ...more });
const terminal = (n) => (s) => s.terminal >= n;

export const scenarios = {
  basics: {
    worker: { concurrency: 2 },
    async produce({ queue }) {
      await queue.add('ok', { steps: [step('progress', { value: 40 }), step('log', { line: 'hello' }),
        step('return', { value: { fine: true } })] });
      await queue.add('fails', { steps: [step('fail', { message: 'bad input' })] }, { attempts: 1 });
      await queue.add('flaky', { steps: [step('failUntil', { attempts: 2, message: 'flaky' }),
        step('return', { value: 'third time' })] }, { attempts: 3, backoff: { type: 'fixed', delay: 50 } });
      await queue.add('unrecoverable', { steps: [step('unrecoverable', { message: 'never' })] }, { attempts: 5 });
      await queue.add('exhausted', { steps: [step('fail', { message: 'always' })] },
        { attempts: 2, backoff: { type: 'exponential', delay: 20 } });
    },
    done: terminal(5),
  },

  'flow-children-values': {
    worker: { concurrency: 4 },
    async produce({ flow, name }) {
      await flow.add({
        name: 'parent', queueName: name, data: { steps: [step('childrenValues')] },
        children: ['a', 'b', 'c'].map((c, i) => ({
          name: `child-${c}`, queueName: name, data: { steps: [step('return', { value: i * 10 })] },
        })),
      });
    },
    done: terminal(4),
  },

  'flow-fail-parent-on-failure': {
    worker: { concurrency: 2 },
    async produce({ flow, name }) {
      await flow.add({
        name: 'parent', queueName: name, data: { steps: [step('return', { value: 'parent ran' })] },
        children: [
          { name: 'child-bad', queueName: name, data: { steps: [step('fail', { message: 'child broke' })] },
            opts: { failParentOnFailure: true } },
          { name: 'child-good', queueName: name, data: { steps: [step('sleep', { ms: 300 }), step('return', { value: 1 })] } },
        ],
      });
    },
    done: terminal(3),
  },

  'flow-ignore-dependency-on-failure': {
    worker: { concurrency: 2 },
    async produce({ flow, name }) {
      await flow.add({
        name: 'parent', queueName: name, data: { steps: [step('ignoredFailures')] },
        children: [
          { name: 'child-bad', queueName: name, data: { steps: [step('fail', { message: 'ignored failure' })] },
            opts: { ignoreDependencyOnFailure: true } },
          { name: 'child-good', queueName: name, data: { steps: [step('return', { value: 'good' })] } },
        ],
      });
    },
    done: terminal(3),
  },

  'flow-remove-dependency-on-failure': {
    worker: { concurrency: 2 },
    async produce({ flow, name }) {
      await flow.add({
        name: 'parent', queueName: name, data: { steps: [step('childrenValues')] },
        children: [
          { name: 'child-bad', queueName: name, data: { steps: [step('fail', { message: 'removed' })] },
            opts: { removeDependencyOnFailure: true } },
          { name: 'child-good', queueName: name, data: { steps: [step('return', { value: 'kept' })] } },
        ],
      });
    },
    done: terminal(3),
  },

  // continueParentOnFailure (BullMQ 5.x/6): the parent runs as soon as a child fails; completing it anyway is
  // refused by moveToFinished (code -9, "at least one failed child"): the parent fails for good.
  'flow-continue-parent-on-failure': {
    worker: { concurrency: 1 },
    async produce({ flow, name }) {
      await flow.add({
        name: 'parent', queueName: name, data: { steps: [step('return', { value: 'ignored the failed child' })] },
        opts: { attempts: 3 },
        children: [
          { name: 'child-bad', queueName: name, data: { steps: [step('fail', { message: 'child broke' })] },
            opts: { continueParentOnFailure: true } },
        ],
      });
    },
    done: terminal(2),
  },

  // A processor that adds a child and completes without waiting for it: moveToFinished answers -4 (pending
  // dependencies) and the attempt fails; the retry waits for the child.
  'pending-children-on-complete': {
    worker: { concurrency: 2 },
    async produce({ queue }) {
      await queue.add('parent', { steps: [step('addChildOnce', { child: 'late-child' }), step('childrenValues')] },
        { attempts: 2 });
    },
    done: terminal(2),
  },

  // The documented "process step jobs" pattern: add a child, wait for it, then read its value.
  'wait-for-children': {
    worker: { concurrency: 2 },
    async produce({ queue }) {
      await queue.add('parent', { steps: [step('addChildAndWait', { child: 'spawned-child' }), step('childrenValues')] });
    },
    done: terminal(2),
  },

  'processor-api': {
    worker: { concurrency: 3 },
    async produce({ queue }) {
      await queue.add('delay-once', { steps: [step('delayOnce', { ms: 300 }), step('return', { value: 'after delay' })] });
      await queue.add('wait-once', { steps: [step('waitOnce'), step('return', { value: 'after wait' })] });
      await queue.add('update-data', { steps: [step('updateData', { data: { replaced: true } }),
        step('return', { value: 'updated' })] });
      await queue.add('extend-lock', { steps: [step('extendLock', { ms: 5000 })] });
      await queue.add('rate-limit-once', { steps: [step('rateLimitOnce', { ms: 300 }),
        step('return', { value: 'after limit' })] });
      await queue.add('adds-a-job', { steps: [step('addJob', { name: 'added-by-processor' }),
        step('return', { value: 'added' })] });
    },
    // the six above and the one added by a processor
    done: terminal(7),
  },

  'worker-limiter': {
    worker: { concurrency: 6, limiter: { max: 2, duration: 1000 } },
    async produce({ queue }) {
      for (let i = 0; i < 6; i++) await queue.add(`limited-${i}`, { steps: [step('return', { value: i })] });
    },
    done: terminal(6),
  },

  'max-started-attempts': {
    worker: { concurrency: 1, maxStartedAttempts: 1, lockDuration: 1000, stalledInterval: 1000, maxStalledCount: 5 },
    async produce(ctx) {
      await ctx.queue.add('started-twice', { steps: [step('return', { value: 'should not run' })] });
      await ctx.ghostTake(1000);
    },
    done: terminal(1),
  },

  // A job taken by a worker that vanished (a ghost), with maxStalledCount 0: the stalled check sets `defa` and
  // the worker fails the job without running it.
  'stalled-past-max': {
    worker: { concurrency: 1, lockDuration: 1000, stalledInterval: 1000, maxStalledCount: 0 },
    async produce(ctx) {
      await ctx.queue.add('stalls', { steps: [step('return', { value: 'should not run' })] });
      await ctx.ghostTake(1000);
    },
    done: terminal(1),
  },

  // The job's first run kills its worker process: Node's stalled check recovers it after the lock expires;
  // corral's supervisor hands it back at once. Either way: `waiting` + `stalled` events and stc = 1.
  'worker-dies-mid-job': {
    worker: { concurrency: 1, lockDuration: 2000, stalledInterval: 1000, maxStalledCount: 1 },
    async produce({ queue }) {
      await queue.add('crashes-once', { steps: [step('crashOnce'), step('return', { value: 'second run' })] });
    },
    done: terminal(1),
  },

  'scheduler-every-with-limit': {
    worker: { concurrency: 1 },
    async produce({ queue }) {
      await queue.upsertJobScheduler('tick-every', { every: 400, limit: 4 },
        { name: 'tick', data: { steps: [step('return', { value: 'tick' })] } });
    },
    done: terminal(4),
    settle: 1500, // wait this long after done: a fifth iteration would show up
  },

  'scheduler-cron-with-limit': {
    worker: { concurrency: 1 },
    async produce({ queue }) {
      await queue.upsertJobScheduler('tick-cron', { pattern: '*/1 * * * * *', limit: 3, tz: 'Europe/Berlin' },
        { name: 'tock', data: { steps: [step('return', { value: 'tock' })] } });
    },
    done: terminal(3),
    settle: 2000,
  },

  // An unbounded scheduler: both keep producing iterations; compared as "at least N, and a next one waiting".
  'scheduler-every-runs-on': {
    worker: { concurrency: 1 },
    async produce({ queue }) {
      await queue.upsertJobScheduler('tick-on', { every: 300 },
        { name: 'tick-on', data: { steps: [step('return', { value: 1 })] } });
    },
    done: terminal(5),
  },

  // Deliberately different (README): an unknown backoff strategy. Node's Worker throws inside moveToFailed, leaves
  // the job active with an untracked lock, and the stalled check eventually fails it; corral fails it at once with
  // the reason.
  'unknown-backoff': {
    worker: { concurrency: 1, lockDuration: 1000, stalledInterval: 1000, maxStalledCount: 1 },
    async produce({ queue }) {
      await queue.add('custom-backoff', { steps: [step('fail', { message: 'boom' })] },
        { attempts: 3, backoff: { type: 'custom-strategy', delay: 10 } });
    },
    done: terminal(1),
  },
};
