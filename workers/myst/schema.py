"""The submission: the intake route's request body, and the data of the `myst-build` job it queues."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated

from bullmq.queue_keys import QueueKeys as BullQueueKeys
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# desci-server's job ids and node uuids: letters, digits, '-', '_', '.', '='; never ':' (BullMQ's key separator),
# never all digits (BullMQ refuses integer-looking custom ids).
# It names the job's work folder too, so it starts with a letter or digit: never "." or "..".
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=-]{0,127}$")


def _id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError("must be 1-128 characters of letters, digits, '-', '_', '.' or '=', starting with a "
                         "letter or digit")
    if value.isdigit():
        raise ValueError("must not be all digits (BullMQ keeps integer ids for itself)")
    return value


def _relative_path(value: str) -> str:
    p = PurePosixPath(value.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or not p.parts or re.match(r"^[A-Za-z]:", value):
        raise ValueError("must be a path inside the project (relative, without '..')")
    return str(p)


# The names BullMQ gives a queue's own keys (`bull:<queue>:meta`, `:id`, `:events`, ...): a job with such an id
# would be that key, so `GET .../meta` would read the queue's meta hash as a job.
QUEUE_KEY_NAMES = frozenset(n for n in BullQueueKeys().getKeys("") if n)


def _job_id(value: str) -> str:
    _id(value)
    if value in QUEUE_KEY_NAMES:
        raise ValueError(f"must not be one of BullMQ's queue key names ({', '.join(sorted(QUEUE_KEY_NAMES))})")
    return value


def is_job_id(value: str) -> bool:
    """The rule a submission's jobId follows, for the status route."""
    try:
        _job_id(value)
    except ValueError:
        return False
    return True


Id = Annotated[str, AfterValidator(_id)]
JobId = Annotated[str, AfterValidator(_job_id)]


class Export(BaseModel):
    model_config = ConfigDict(extra="allow")  # myst.yml exports carry more keys (template, article...)

    format: Annotated[str, Field(min_length=1, max_length=32)]
    output: Annotated[str, Field(max_length=500), AfterValidator(_relative_path)] | None = None


class Project(BaseModel):
    model_config = ConfigDict(extra="allow")

    exports: Annotated[list[Export], Field(max_length=100)] = []


class ParsedDocument(BaseModel):
    model_config = ConfigDict(extra="allow")

    project: Project


class Submission(BaseModel):
    model_config = ConfigDict(extra="ignore")

    url: Annotated[str, Field(min_length=1, max_length=2000,
                              description="GitHub blob URL of the article's myst.yml")]
    jobId: Annotated[JobId, Field(description="desci-server's import job id; also the BullMQ job id")]
    uuid: Annotated[Id, Field(description="the desci node's uuid")]
    parsedDocument: Annotated[ParsedDocument, Field(description="the parsed myst.yml")]
