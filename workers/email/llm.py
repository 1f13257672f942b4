"""Phases 2 and 3 of the email analysis: an LLM through Ollama's API, with the official `ollama` client.

Every answer is asked for as JSON matching a schema (Ollama's structured outputs), validated with the
same pydantic model, and retried once with a stricter prompt. A phase that still has no valid answer
is recorded as a fallback with its reason: no invented answer is ever stored as a real one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import ollama
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workers import tracing
from workers.telemetry import TELEMETRY
from workers.validation import first


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


# Bounds on every string and list. They go into the JSON schema, so the server's grammar keeps the model inside
# them: without them a small model repeats list items until it runs out of tokens and the answer is cut-off JSON.
Short = Annotated[str, Field(max_length=300)]
Text = Annotated[str, Field(max_length=1200)]
Items = Annotated[list[Short], Field(max_length=8)]


class MissedEntities(_Out):
    project_names: Items = Field(default_factory=list)
    company_names: Items = Field(default_factory=list)
    people: Items = Field(default_factory=list)
    products: Items = Field(default_factory=list)
    technical_specs: Items = Field(default_factory=list)
    locations: Items = Field(default_factory=list)
    other_references: Items = Field(default_factory=list)


class ActionItem(_Out):
    task: Short
    owner: Short
    deadline: Short
    revenue_impact: Short | None = None


class Phase2Output(_Out):
    workflow_validation: Short
    missed_entities: MissedEntities
    action_items: Annotated[list[ActionItem], Field(max_length=8)]
    risk_assessment: Text
    initial_response: Text
    confidence: float = Field(ge=0, le=1)
    business_process: Short
    extracted_requirements: Items


class StrategicInsights(_Out):
    opportunity: Text
    risk: Text
    relationship: Text


class WorkflowIntelligence(_Out):
    predicted_next_steps: Items
    bottleneck_risks: Items
    optimization_opportunities: Items


class Phase3Output(_Out):
    strategic_insights: StrategicInsights
    executive_summary: Text
    escalation_needed: bool
    revenue_impact: Short
    cross_email_patterns: Items
    workflow_intelligence: WorkflowIntelligence


class OllamaUnavailable(Exception):
    """Ollama cannot be reached or refuses to serve: worth retrying the job later, not a bad answer."""


@dataclass
class PhaseResult:
    output: dict[str, Any] | None
    model: str
    ms: float
    fallback_reason: str | None = None
    attempts: int = 0


SYSTEM = ("You analyse business emails for an operations team. Answer with one JSON object only, "
          "matching the given schema exactly. Do not invent facts that are not in the email.")
STRICT = ("Your previous answer was not valid: {error}. Answer again with ONLY a JSON object that matches "
          "this JSON schema, every required key present, no prose, no markdown:\n{schema}")


async def ask(
    client: ollama.AsyncClient,
    model: str,
    prompt: str,
    schema: type[_Out],
    *,
    temperature: float,
    num_predict: int = 1536,
    limiter: Callable[[], AbstractAsyncContextManager[Any]],
) -> PhaseResult:
    """One phase: the question, and at most one retry with a stricter prompt. Each request is bounded by the
    client's own `timeout` (httpx raises a TransportError past it: Ollama counts as unavailable)."""
    messages: list[dict[str, str]] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]
    json_schema = schema.model_json_schema()
    started = time.perf_counter()
    error = ""
    for attempt in (1, 2):
        # The call's span (with tracing on; its httpx request is a child): waiting for a slot, the answer, its check.
        with tracing.span(f"chat {model}", kind="client", attributes={
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "ollama", "gen_ai.request.model": model,
                "gen_ai.request.temperature": temperature, "gen_ai.request.max_tokens": num_predict,
                "corral.email.phase": 3 if schema is Phase3Output else 2, "corral.ollama.attempt": attempt}) as span:
            try:
                async with limiter():
                    with TELEMETRY.track("ollama", model=model) as call:  # inside the limiter: time on the server
                        try:
                            response = await client.chat(
                                model=model, messages=messages, format=json_schema,
                                options={"temperature": temperature, "num_predict": num_predict})
                        except (httpx.TimeoutException, TimeoutError):
                            call.outcome = "timeout"
                            raise
                        content = response.message.content or ""
                        _usage(span, response)
                        try:
                            parsed = schema.model_validate_json(content)
                        except ValidationError as e:
                            call.outcome = "invalid_answer"
                            error = _short(e)
                            span.set_attribute("corral.ollama.outcome", "invalid")
                            span.set_attribute("corral.ollama.error", error)
                        else:
                            span.set_attribute("corral.ollama.outcome", "valid")
                            return PhaseResult(parsed.model_dump(), model, _ms(started), None, attempt)
            except (httpx.TransportError, ConnectionError, TimeoutError) as e:
                span.set_attribute("corral.ollama.outcome", "unavailable")
                raise OllamaUnavailable(f"Ollama unreachable: {type(e).__name__}: {e}") from e
            except ollama.ResponseError as e:
                if e.status_code >= 500 or e.status_code == 404:
                    # 404: the model is not pulled there; 5xx: the server is failing. Neither is the email's fault.
                    span.set_attribute("corral.ollama.outcome", "unavailable")
                    raise OllamaUnavailable(f"Ollama answered {e.status_code}: {e.error}") from e
                span.set_attribute("corral.ollama.outcome", "refused")
                raise
        messages = [*messages, {"role": "assistant", "content": content[:2000]},
                    {"role": "user", "content": STRICT.format(error=error, schema=json.dumps(json_schema))}]
    return PhaseResult(None, model, _ms(started), f"invalid answer twice: {error}", 2)


def _usage(span: tracing.Notes, response: ollama.ChatResponse) -> None:
    """What the answer says of itself, in the GenAI semantic conventions' names."""
    if response.model:
        span.set_attribute("gen_ai.response.model", response.model)
    if response.prompt_eval_count is not None:
        span.set_attribute("gen_ai.usage.input_tokens", response.prompt_eval_count)
    if response.eval_count is not None:
        span.set_attribute("gen_ai.usage.output_tokens", response.eval_count)


def _short(e: ValidationError) -> str:
    p = first(e)
    return f"{e.error_count()} error(s), first at '{p.where}': {p.what}"


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def phase2_prompt(subject: str, sender: str, received_at: str, body: str, phase1: dict[str, Any]) -> str:
    p1 = {k: phase1[k] for k in ("entities", "workflow_state", "priority", "detected_patterns") if k in phase1}
    return (f"Subject: {subject}\nFrom: {sender}\nDate: {received_at}\n\nBody (first 1000 characters):\n"
            f"{body[:1000]}\n\nRule-based analysis so far: {json.dumps(p1)}\n\n"
            "Validate the workflow state, list entities the rules missed, action items, risks, a short "
            "initial response, your confidence (0 to 1), the business process and the requirements.")


def phase3_prompt(conversation: list[dict[str, str]], phase2: list[dict[str, Any] | None]) -> str:
    lines = []
    for mail, p2 in zip(conversation, phase2, strict=True):
        lines.append(f"- {mail['received_at']} {mail['sender']}: {mail['subject']}\n  {mail['body'][:400]}")
        if p2:
            lines.append(f"  (analysis: {p2.get('business_process', '')}; risk: {p2.get('risk_assessment', '')})")
    return ("This is a complete conversation between a customer and our team, oldest first:\n" + "\n".join(lines)
            + "\n\nGive strategic insights, an executive summary, whether to escalate, the revenue impact, "
            "patterns across the emails and the workflow outlook.")
