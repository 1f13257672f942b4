"""The dashboard in a real headless browser: Debian's chromium driven by Playwright.

The page must fill itself from the daemon and then keep updating without a reload while jobs run, a
worker dies and the pool scales; its tables must fit their panels at 1280 and 1920 px; failed jobs and
retried attempts must read the same on the page, in the snapshot, `/metrics`, `corral status` and
`corral watch`; a dependency that goes down must show on `/readyz`, `/metrics` and the page. Screenshots
land in tests/artifacts/ for a human look.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from playwright.async_api import Browser, Page, async_playwright

from pool.dashboard import history_point, interval_rates
from tests.ollama_standin import StandIn
from tests.pool_harness import RunningPool, add_jobs, job_state, make_config, wait_for
from tests.test_operators import _corral, sample, scrape

Q = "dash"
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
WIDTHS = (1280, 1920)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run scripts/test.sh (it installs Debian's chromium)")
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        await b.close()


async def text(page: Page, selector: str) -> str:
    return (await page.locator(selector).inner_text()).strip()


async def wait_text(page: Page, element_id: str, expected: str) -> None:
    await page.wait_for_function(f"document.getElementById({element_id!r}).textContent === {expected!r}",
                                 timeout=10_000)


# Measured in the page: every panel, every table in it, the grid's columns and the page's own width.
LAYOUT = """() => {
  const problems = [];
  const inner = (el) => { const cs = getComputedStyle(el);
                          return el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight); };
  for (const section of document.querySelectorAll("main > section")) {
    const title = section.querySelector("h2").textContent.trim();
    if (section.scrollWidth > section.clientWidth) problems.push(`panel "${title}" overflows`);
    for (const table of section.querySelectorAll("table")) {
      const width = table.getBoundingClientRect().width;
      if (width > inner(section) + 0.5) problems.push(`a table of "${title}" is ${width} px in ${inner(section)} px`);
      const wrap = table.closest(".table-wrap");
      if (wrap && wrap.scrollWidth > wrap.clientWidth) problems.push(`a table of "${title}" needs a scroll bar`);
    }
  }
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth) problems.push(`the page is ${root.scrollWidth} px wide`);
  const main = document.querySelector("main");
  return {problems, columns: getComputedStyle(main).gridTemplateColumns.split(" ").length,
          right: Math.max(...[...main.children].map((s) => s.getBoundingClientRect().right)),
          width: root.clientWidth};
}"""


async def check_layout(page: Page, name: str) -> None:
    """At each width: nothing clipped or scrolled sideways, the grid uses the width (2 columns at 1280 px, 4 at
    1920 px, the panels reaching the right margin), a screenshot saved."""
    ARTIFACTS.mkdir(exist_ok=True)
    for width in WIDTHS:
        await page.set_viewport_size({"width": width, "height": 1000})
        await page.wait_for_timeout(100)  # the charts redraw on resize
        layout = await page.evaluate(LAYOUT)
        assert layout["problems"] == [], (width, layout["problems"])
        assert layout["columns"] == {1280: 2, 1920: 4}[width], layout
        assert layout["right"] >= layout["width"] - 21, layout  # 20 px margin: no empty half page
        shot = ARTIFACTS / f"{name}-{width}.png"
        await page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000


def test_history_points_carry_the_peak_and_per_queue_rates() -> None:
    def snap(at: float, depth: int, peak: int, queues: dict[str, tuple[int, int, int]]) -> dict[str, Any]:
        return {"at": at, "uptime": at - 90.0, "totalWorkers": 2, "activeWorkers": 1, "queueDepth": depth,
                "peakQueueDepth": peak, "throughput": 1.0, "totalProcessed": 0, "totalFailed": 0, "totalRetried": 0,
                "queues": {q: {"completed": c, "failed": f, "retried": r} for q, (c, f, r) in queues.items()}}

    first = history_point(snap(100.0, 0, 40, {"a": (10, 1, 2)}))
    assert (first["backlog"], first["peak"]) == (0, 40)  # the spike between two snapshots
    assert first["rates"] == {"a": {"ended": 1.1, "failed": 0.1, "retried": 0.2}}  # since the daemon started at 90
    second = history_point(snap(105.0, 3, 3, {"a": (30, 6, 12), "b": (5, 0, 1)}), first)
    assert second["rates"] == {"a": {"ended": 5.0, "failed": 1.0, "retried": 2.0},
                               "b": {"ended": 1.0, "failed": 0.0, "retried": 0.2}}  # b: first probed, from zero
    third = history_point(snap(110.0, 0, 0, {"a": (25, 6, 12), "b": (5, 0, 1)}), second)
    assert third["rates"]["a"]["ended"] == 0.0  # a counter going down is no negative rate
    assert third["rates"]["b"] == {"ended": 0.0, "failed": 0.0, "retried": 0.0}
    assert interval_rates(third, third) == {}  # no time between them: no rate


async def test_dashboard_updates_live_in_a_real_browser(browser: Browser, redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    cfg = make_config(redis_url, [(Q, "workers.processors.builtin:by_name", 2)], http={"port": 0},
                      min_workers=1, max_workers=3, max_memory_mb=256)
    async with RunningPool(cfg) as pool:
        assert pool.sup.http is not None
        page = await browser.new_page(viewport={"width": 1280, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(f"http://127.0.0.1:{pool.sup.http.port}/")
        await page.wait_for_selector("#conn.live", timeout=10_000)
        await page.wait_for_selector("#workers tr[data-worker]", timeout=10_000)
        assert await text(page, "#s-bounds") == "1..3"
        # Empty panels say so in words, not as a numbered "1. none".
        assert await text(page, "#restarts") == "no restarts yet"
        assert await page.locator("#restarts ol").count() == 0
        assert "no job has failed yet" in await text(page, "#failures")
        assert "no dependency checks" in await text(page, "#checks")
        assert "1 of 1..3" in await text(page, "#groups tr[data-group='pool']")
        points_before = int(await page.locator("#chart-pool").get_attribute("data-points") or 0)

        ids = await add_jobs(redis_url, Q, [("sleep", {"seconds": 0.4}, {}) for _ in range(30)]
                             + [("fail", {"unrecoverable": True}, {}) for _ in range(2)])
        await wait_for(lambda: all(job_state(r, Q, i) in ("completed", "failed") for i in ids), 30, "jobs done")

        # No reload from here: everything below arrives over the event stream.
        await wait_text(page, "s-processed", "30")
        await wait_text(page, "s-failed", "2")
        # Killed only now: a SIGKILLed worker's completions since its last heartbeat are never reported
        # (BullMQ's completed set has them; the pool's counters may miss up to one heartbeat's worth).
        victim = next(iter(pool.sup.state.workers.values()))
        assert victim.pid is not None
        os.kill(victim.pid, signal.SIGKILL)
        await page.wait_for_function(
            "document.getElementById('restarts').textContent.includes('died unexpectedly')", timeout=10_000)
        assert await page.locator("#restarts ol li").count() == 1
        assert "scale up" in await text(page, "#scaling")
        points_after = int(await page.locator("#chart-pool").get_attribute("data-points") or 0)
        assert points_after > points_before + 3
        series = await page.locator("#chart-pool path").evaluate_all("ps => ps.map(p => p.dataset.series)")
        assert series == ["workers", "busy", "backlog", "peak"]
        # The 30 jobs ended on Q: its throughput line is drawn from consecutive snapshots' counters.
        assert await page.locator(f"#chart-throughput path[data-series='{Q}']").count() == 1
        assert await page.locator(f"#chart-failures path[data-series='{Q} failed']").count() == 1
        async with httpx.AsyncClient() as c:
            points = (await c.get(f"http://127.0.0.1:{pool.sup.http.port}/api/snapshot")).json()["history"]
        assert all(p["peak"] >= p["backlog"] for p in points)
        # The rates add up to the counters: every job ended since the first point, by consecutive points' counters.
        last = points[-1]["queues"][Q]
        rated = sum(p["rates"].get(Q, {"ended": 0})["ended"] * (p["at"] - prev["at"])
                    for prev, p in itertools.pairwise(points))
        first = points[0]["queues"].get(Q, {"completed": 0, "failed": 0})
        assert rated == pytest.approx(last["completed"] + last["failed"] - first["completed"] - first["failed"],
                                      abs=0.1)
        assert last["completed"] + last["failed"] - first["completed"] - first["failed"] == 32
        rows = await page.locator("#workers tr[data-worker]").count()
        assert rows == len(pool.sup.state.workers)
        assert "/ 256" in await text(page, "#workers tbody")  # memory shown against the limit
        assert Q in await text(page, "#queues tbody")

        await check_layout(page, "dashboard")
        assert errors == [], errors


# -- failed jobs and retried attempts, counted alike everywhere ------------------------------------------------

FLAKY, DOOMED = 20, 5
REASON = "the payment gateway refused the card ending 4242: insufficient funds (gateway code 51, not retriable)"


async def test_failed_jobs_and_retried_attempts_read_the_same_everywhere(browser: Browser, redis_url: str) -> None:
    """20 jobs fail their first attempt and succeed on the second, 5 fail both of their 2 attempts. "Failed" counts
    jobs that ended failed: 5. "Retried" counts failed attempts after which the job ran again: the 20 first attempts
    of the flaky jobs and the 5 first attempts of the doomed ones, 25. Their last attempts are the 5 failures."""
    r = redis.Redis.from_url(redis_url)
    cfg = make_config(redis_url, [(Q, "tests.procs:interop", 5)], http={"port": 0}, min_workers=2, max_workers=2)
    async with RunningPool(cfg) as pool:
        assert pool.sup.http is not None
        base = f"http://127.0.0.1:{pool.sup.http.port}"
        ids = await add_jobs(redis_url, Q, [("flaky", {"fail_times": 1}, {"attempts": 2}) for _ in range(FLAKY)]
                             + [("fail", {"message": REASON}, {"attempts": 2}) for _ in range(DOOMED)])
        await wait_for(lambda: all(job_state(r, Q, i) in ("completed", "failed") for i in ids), 30, "jobs done")
        assert [job_state(r, Q, i) for i in ids] == ["completed"] * FLAKY + ["failed"] * DOOMED

        def counted() -> dict[str, Any] | None:
            s = pool.sup.state.last_snapshot
            return s if s and (s["totalProcessed"], s["totalFailed"], s["totalRetried"]) == (20, 5, 25) else None

        snap = await wait_for(counted, 10, "the snapshot to count every attempt")
        assert {k: snap["queues"][Q][k] for k in ("completed", "failed", "retried")} == {
            "completed": 20, "failed": 5, "retried": 25}
        assert [sum(w[k] for w in snap["workers"]) for k in ("completed", "failed", "retried")] == [20, 5, 25]
        failures = snap["failures"]
        assert [(g["reason"], g["count"], g["queue"]) for g in failures["final"]] == [(REASON, 5, Q)]
        assert sorted((g["reason"], g["count"]) for g in failures["retried"]) == [
            ("flaky attempt 1", 20), (REASON, 5)]
        assert [n["reason"] for n in failures["recent"]] == [REASON] * 5

        async def metrics_counted() -> dict[Any, float] | None:
            s = await scrape(base)
            return s if sample(s, "bullmq_job_failed_total", queue=Q) == 5 else None

        s = await wait_for(metrics_counted, 10, "BullMQ's own counts probed")
        assert sample(s, "corral_jobs_completed_total", queue=Q, job_name="flaky") == 20
        assert sample(s, "corral_jobs_failed_total", queue=Q, job_name="fail") == 5
        assert sample(s, "corral_jobs_failed_total", queue=Q, job_name="flaky") is None  # none of them ended failed
        assert sample(s, "corral_job_attempts_retried_total", queue=Q, job_name="flaky") == 20
        assert sample(s, "corral_job_attempts_retried_total", queue=Q, job_name="fail") == 5
        assert sample(s, "bullmq_job_completed_total", queue=Q) == 20  # BullMQ's metrics count jobs, not attempts

        await wait_for(lambda: pool.sup.state.last_snapshot is not snap, 5, "the counted snapshot published")
        status = await _corral("status", "--redis-url", redis_url)
        assert "jobs: completed 20, failed 5, attempts retried 25;" in status, status
        assert f"queue {Q}: " in status and "completed 20 failed 5 retried 25" in status, status
        assert f"jobs failed, by reason:\n         5  {REASON}" in status, status
        watch = await _corral("watch", "--once", "--redis-url", redis_url)
        assert "completed 20  failed 5  retried 25" in watch, watch
        assert "jobs failed, by reason:" in watch and f"5  {REASON[:60]}" in watch, watch

        page = await browser.new_page(viewport={"width": 1280, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(base + "/")
        await page.wait_for_selector("#conn.live", timeout=10_000)
        await wait_text(page, "s-failed", "5")
        assert (await text(page, "#s-processed"), await text(page, "#s-retried")) == ("20", "25")
        queue_row = await page.locator(f"#queues tr[data-queue='{Q}'] td").all_inner_texts()
        assert queue_row[5:8] == ["20", "5", "25"]  # completed, failed, retried
        final = await page.locator("#failures table[data-kind='final'] tbody tr td").all_inner_texts()
        assert final[:2] == ["5", REASON] and final[3].startswith(f"{Q}/"), final
        retried = await page.locator("#failures table[data-kind='retried'] tbody td.count").all_inner_texts()
        assert retried == ["20", "5"], retried  # most first
        recent = await page.locator("#failures table[data-kind='recent'] tbody tr").all_inner_texts()
        assert len(recent) == 5 and all(REASON in row for row in recent)
        assert await page.locator("#panel-failures.alarm").count() == 1
        await check_layout(page, "dashboard-failures")
        assert errors == [], errors


# -- a dependency down -------------------------------------------------------------------------------------


@pytest.fixture
def email_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    def point_at(ollama: str) -> None:
        cfg = tmp_path / "email.toml"
        cfg.write_text(f'database = "{tmp_path / "emails.sqlite"}"\n[ollama]\nhost = "{ollama}"\n'
                       'phase2_model = "good"\nphase3_model = "good"\n')
        monkeypatch.setenv("CORRAL_EMAIL_CONFIG", str(cfg))
        monkeypatch.delenv("CORRAL_EMAIL_DATABASE", raising=False)
        monkeypatch.delenv("OLLAMA_HOST", raising=False)

    return point_at


async def test_a_dependency_down_shows_on_readyz_metrics_and_the_page(browser: Browser, redis_url: str,
                                                                      email_settings: Any) -> None:
    """Two email daemons check an Ollama stand-in every 0.2 s; it stops, then comes back. /readyz lists the check
    and stays 200 by default, 503 with readiness_needs_dependencies; /metrics and the page follow both ways."""
    standin = StandIn()
    email_settings(standin.start())
    pools = []
    try:
        for strict in (False, True):
            cfg = make_config(redis_url, [("email-processing", "workers.email.processor:processors", 1)],
                              http={"port": 0, "readiness_needs_dependencies": strict}, jobtypes=("email",),
                              min_workers=0, max_workers=1, check_interval=0.2)
            pool = RunningPool(cfg)
            pools.append(await pool.__aenter__())
            await wait_for(lambda p=pool: p.sup.http is not None and p.sup.http.started, 10, "the HTTP server")
        bases = [f"http://127.0.0.1:{p.sup.http.port}" for p in pools if p.sup.http is not None]
        lenient, strict_base = bases
        page = await browser.new_page(viewport={"width": 1280, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(lenient + "/")
        await page.wait_for_selector("#conn.live", timeout=10_000)

        async with httpx.AsyncClient(timeout=10) as c:
            async def readiness(base: str, up: bool) -> httpx.Response | None:
                ready = await c.get(base + "/readyz")
                deps = ready.json()["checks"].get("dependencies", {})
                return ready if deps.get("ollama", "").startswith("ok: " if up else "DOWN: ") else None

            for base in bases:
                ready = await wait_for(lambda b=base: readiness(b, True), 10, "the check up")
                assert ready.status_code == 200, ready.text
                assert sample(await scrape(base), "corral_dependency_up", check="ollama") == 1
            await page.wait_for_selector("#checks [data-check='ollama'].ok", timeout=10_000)

            standin.stop()
            ready = await wait_for(lambda: readiness(lenient, False), 10, "the check down")
            assert ready.status_code == 200, ready.text  # shown, not fatal by default
            detail = ready.json()["checks"]["dependencies"]["ollama"]
            assert detail.startswith(f"DOWN: Ollama unreachable at {standin.url}: ConnectError"), detail
            ready = await wait_for(lambda: readiness(strict_base, False), 10, "the check down (strict)")
            assert ready.status_code == 503 and ready.json()["ok"] is False, ready.text
            for base in bases:
                assert sample(await scrape(base), "corral_dependency_up", check="ollama") == 0
            down = page.locator("#checks [data-check='ollama'].down")
            await down.wait_for(timeout=10_000)
            assert "DOWN" in await down.inner_text() and "Ollama unreachable" in await down.inner_text()
            assert await page.locator("#panel-checks.alarm").count() == 1
            assert await text(page, "#s-checks") == "1 down"
            await check_layout(page, "dashboard-dependency-down")

            standin.start()  # back on the same port
            ready = await wait_for(lambda: readiness(strict_base, True), 10, "the check up again")
            assert ready.status_code == 200, ready.text
            await page.wait_for_selector("#checks [data-check='ollama'].ok", timeout=10_000)
            assert await page.locator("#panel-checks.alarm").count() == 0
        assert errors == [], errors
    finally:
        for p in pools:
            await p.__aexit__(None, None, None)
        standin.stop()
