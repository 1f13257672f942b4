"""Errors a processor may raise to steer what happens to its job."""


class UnrecoverableError(Exception):
    """The job cannot succeed however often it runs: it fails now, without retries (BullMQ's own notion)."""


class InvalidJobError(UnrecoverableError):
    """The job's name or data are not what its processor accepts."""


class ProcessorImportError(Exception):
    """A `module:attribute` processor path does not resolve to something callable."""
