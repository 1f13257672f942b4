"""The `process-emails` job data, as the original producers send it, validated before anything runs.

A field that is missing, of the wrong type, too large or not plain text fails the job at once, with the
field's path in the reason (see workers.consumer.describe_validation_error), and nothing is written.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_BODY_CHARS = 200_000  # a long thread quoted in full stays under this; megabytes are a producer bug
MAX_EMAILS_PER_JOB = 500
# C0 controls other than tab, newline and carriage return: no mail client produces them in text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _plain_text(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("contains control characters (binary data is not text)")
    return value


Text = Annotated[str, AfterValidator(_plain_text)]
Id = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_plain_text)]


class _Model(BaseModel):
    # Unknown keys are ignored (producers may add fields), wrong types are not coerced.
    model_config = ConfigDict(extra="ignore", strict=False, str_strip_whitespace=False)


class Email(_Model):
    id: Id
    subject: Annotated[Text, Field(max_length=2_000)] = ""
    body: Annotated[Text, Field(max_length=MAX_BODY_CHARS)]
    sender_email: Annotated[Text, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
    received_at: datetime
    conversation_id: Id | None = None
    importance: Literal["low", "normal", "high"] | None = None
    # Notable mail headers, optional: Auto-Submitted (RFC 3834), X-Autoreply, Precedence ... mark auto-replies.
    headers: Annotated[dict[Annotated[str, Field(max_length=200)], Annotated[Text, Field(max_length=2_000)]],
                       Field(max_length=100)] | None = None


class Options(_Model):
    skipCache: bool = False
    forceAllPhases: bool = False
    qualityThreshold: Annotated[float, Field(ge=0, le=1)] | None = None
    timeout: Annotated[int, Field(gt=0, le=3_600_000)] | None = None  # milliseconds, as Node producers send


class EmailJob(_Model):
    id: Id
    conversationId: Id
    emails: Annotated[list[Email], Field(min_length=1, max_length=MAX_EMAILS_PER_JOB)]
    priority: Literal["low", "medium", "high", "critical"] = "medium"
    options: Options = Options()

    def conversation_of(self, email: Email) -> str:
        return email.conversation_id or self.conversationId


# BullMQ priorities of the original producer (lower runs first).
PRIORITY_MAP = {"critical": 1, "high": 2, "medium": 3, "low": 4}
