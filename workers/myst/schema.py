"""The submission: the intake route's request body, and the data of the `myst-build` job it queues."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated, Any

from bullmq.queue_keys import QueueKeys as BullQueueKeys
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

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


# mystmd's own table (myst-frontmatter's EXT_TO_FORMAT): the format of an export that names only its output.
EXT_TO_FORMAT = {".pdf": "pdf", ".tex": "tex", ".doc": "docx", ".docx": "docx", ".md": "md", ".zip": "meca",
                 ".meca": "meca", ".xml": "xml", ".jats": "xml", ".typ": "typst", ".typst": "typst", ".cff": "cff"}


def _mystmd_export(entry: Any) -> Any:
    """An export as mystmd reads one: a string is a format (`pdf`), an extension (`.pdf`) or an output
    (`paper.pdf`); an object without `format` takes its output's extension. None: nothing to match it by (a
    template alone), mystmd resolves it from the project."""
    if isinstance(entry, str):
        if entry.startswith(".") and entry.lower() in EXT_TO_FORMAT:
            return {"format": EXT_TO_FORMAT[entry.lower()]}
        entry = {"output": entry} if "." in entry else {"format": entry}
    if isinstance(entry, dict) and not entry.get("format"):
        suffix = PurePosixPath(str(entry.get("output") or "")).suffix.lower()
        return {**entry, "format": EXT_TO_FORMAT[suffix]} if suffix in EXT_TO_FORMAT else None
    return entry


class Project(BaseModel):
    model_config = ConfigDict(extra="allow")

    exports: Annotated[list[Export], Field(max_length=100)] = []

    @field_validator("exports", mode="before")
    @classmethod
    def _as_mystmd_reads_them(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        read = [_mystmd_export(e) for e in value]
        return [e for e in read if e is not None]


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
