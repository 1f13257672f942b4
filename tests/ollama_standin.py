"""An Ollama-API test server: the real HTTP protocol (/api/chat, /api/tags, /api/version) on a real
socket, with scripted behaviour chosen by the model name a client asks for:

  good          a valid answer for the requested JSON schema
  garbage       malformed JSON, every time
  garbage-once  malformed JSON first, then a valid answer (for the stricter retry)
  wrong-shape   valid JSON missing required keys
  slow          a valid answer after `?latency` seconds (default 0.3)
  error         HTTP 500
  missing       HTTP 404 (model not pulled)
  hang          never answers

GET /stats reports, per model, the requests and the most in flight at once; POST /reset zeroes them.
Run: python -m tests.ollama_standin PORT, or `StandIn().start()` from a test (stoppable, to play an outage).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

STATE: dict[str, Any] = {"in_flight": {}, "max_in_flight": {}, "requests": {}, "seen": {}}

PHASE2 = {
    "workflow_validation": "ORDER_MANAGEMENT confirmed", "missed_entities": {
        "project_names": [], "company_names": ["Acme"], "people": ["Anna"], "products": [], "technical_specs": [],
        "locations": [], "other_references": []},
    "action_items": [{"task": "confirm delivery date", "owner": "logistics", "deadline": "2025-03-10"}],
    "risk_assessment": "low", "initial_response": "Thanks, we are on it.", "confidence": 0.8,
    "business_process": "order fulfilment", "extracted_requirements": ["ship by Friday"],
}
PHASE3 = {
    "strategic_insights": {"opportunity": "repeat orders", "risk": "delays", "relationship": "good"},
    "executive_summary": "Customer chasing a delivery.", "escalation_needed": False, "revenue_impact": "medium",
    "cross_email_patterns": ["follow-ups"], "workflow_intelligence": {
        "predicted_next_steps": ["ship"], "bottleneck_risks": ["stock"], "optimization_opportunities": []},
}


def answer_for(schema: Any) -> dict[str, Any]:
    props = schema.get("properties", {}) if isinstance(schema, dict) else {}
    return PHASE3 if "strategic_insights" in props else PHASE2


def reply(model: str, content: str) -> JSONResponse:
    return JSONResponse({
        "model": model, "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "message": {"role": "assistant", "content": content}, "done": True, "done_reason": "stop",
        "total_duration": 1000, "load_duration": 10, "prompt_eval_count": 10, "eval_count": 20,
    })


async def chat(request: Request) -> JSONResponse:
    body = await request.json()
    model = body.get("model", "")
    kind = model.split(":")[0]
    STATE["requests"][model] = STATE["requests"].get(model, 0) + 1
    flying = STATE["in_flight"][model] = STATE["in_flight"].get(model, 0) + 1
    STATE["max_in_flight"][model] = max(STATE["max_in_flight"].get(model, 0), flying)
    try:
        await asyncio.sleep(float(request.query_params.get("latency", "0.05")))
        if kind == "error":
            return JSONResponse({"error": "model runner crashed"}, status_code=500)
        if kind == "missing":
            return JSONResponse({"error": f"model '{model}' not found, try pulling it first"}, status_code=404)
        if kind == "hang":
            await asyncio.sleep(3600)
        if kind == "slow":
            await asyncio.sleep(0.3)
        good = json.dumps(answer_for(body.get("format")))
        if kind == "garbage":
            return reply(model, '{"workflow_validation": "ok", "missed_')
        if kind == "wrong-shape":
            return reply(model, json.dumps({"summary": "not what was asked"}))
        if kind == "garbage-once":
            key = json.dumps(body.get("messages", [])[:2])
            STATE["seen"][key] = STATE["seen"].get(key, 0) + 1
            if STATE["seen"][key] == 1:
                return reply(model, "Sure! Here is the analysis you asked for: ...")
        return reply(model, good)
    finally:
        STATE["in_flight"][model] -= 1


async def reset(request: Request) -> JSONResponse:
    STATE.update(max_in_flight=dict(STATE["in_flight"]), requests={}, seen={})
    return JSONResponse({"ok": True})


async def tags(request: Request) -> JSONResponse:
    return JSONResponse({"models": [{"name": n, "model": n} for n in ("good:latest", "slow:latest")]})


async def version(request: Request) -> JSONResponse:
    return JSONResponse({"version": "0.0.0-corral-standin"})


async def stats(request: Request) -> JSONResponse:
    return JSONResponse({k: v for k, v in STATE.items() if k != "seen"})


app = Starlette(routes=[Route("/api/chat", chat, methods=["POST"]), Route("/api/tags", tags),
                        Route("/api/version", version), Route("/stats", stats),
                        Route("/reset", reset, methods=["POST"])])

class StandIn:
    """The stand-in in a process of its own on one port, stopped and started again at will (an Ollama outage)."""

    def __init__(self, port: int | None = None) -> None:
        from pool.embedded_redis import free_port

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.ollama_standin", str(self.port)])
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{self.url}/api/version", timeout=1)
                return self.url
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError(f"the Ollama stand-in did not answer on port {self.port} (exit code {self.proc.poll()})")

    def stop(self) -> None:
        """Terminate (a "hang" request may be open: no waiting on uvicorn's graceful shutdown for it)."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", timeout_graceful_shutdown=1)
