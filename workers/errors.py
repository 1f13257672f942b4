"""Errors a processor may raise to steer what happens to its job.

The first is BullMQ's notion of a job that cannot succeed. The four "moved" errors mirror BullMQ 6's
`DelayedError`, `WaitingChildrenError`, `WaitingError` and `RateLimitError`: the processor has already moved its
job (with `job.move_to_delayed`, `job.move_to_waiting_children`, `job.move_to_wait`) or set a rate limit
(`job.rate_limit`), and raises the error to say "do not complete or fail this job, it is taken care of".
"""


class UnrecoverableError(Exception):
    """The job cannot succeed however often it runs: it fails now, without retries (BullMQ's own notion)."""


class InvalidJobError(UnrecoverableError):
    """The job's name or data are not what its processor accepts."""


class ProcessorImportError(Exception):
    """A `module:attribute` processor path does not resolve to something callable."""


class JobMovedError(Exception):
    """Base of the errors that tell the worker the processor moved its job itself: nothing more to record."""


class DelayedError(JobMovedError):
    """Raise after `await job.move_to_delayed(timestamp_ms)`: the job waits in `delayed`, its attempt not counted."""


class WaitingChildrenError(JobMovedError):
    """Raise after `await job.move_to_waiting_children()` returned True: the job waits for its children."""


class WaitingError(JobMovedError):
    """Raise after `await job.move_to_wait()`: the job is back in `wait`, to be taken again."""


class RateLimitError(JobMovedError):
    """Raise after `await job.rate_limit(ms)`: the job goes back to `wait` and this queue's workers pause for the
    limit's time (BullMQ's manual rate limit)."""
