"""The dashboard in a real headless browser: Debian's chromium driven by Playwright.

The page must fill itself from the daemon and then keep updating without a reload while jobs run, a
worker dies and the pool scales. The screenshot lands in tests/artifacts/dashboard.png.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis
from playwright.async_api import Browser, Page, async_playwright

from tests.pool_harness import RunningPool, add_jobs, job_state, make_config, wait_for

Q = "dash"
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


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


async def test_dashboard_updates_live_in_a_real_browser(browser: Browser, redis_url: str) -> None:
    r = redis.Redis.from_url(redis_url)
    cfg = make_config(redis_url, [(Q, "workers.processors.builtin:by_name", 2)], http={"port": 0},
                      min_workers=1, max_workers=3, max_memory_mb=256)
    async with RunningPool(cfg) as pool:
        assert pool.sup.http is not None
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(f"http://127.0.0.1:{pool.sup.http.port}/")
        await page.wait_for_selector("#conn.live", timeout=10_000)
        await page.wait_for_selector("#workers tr[data-worker]", timeout=10_000)
        assert await text(page, "#s-bounds") == "1..3"
        points_before = int(await page.locator("#chart-pool").get_attribute("data-points") or 0)

        ids = await add_jobs(redis_url, Q, [("sleep", {"seconds": 0.4}, {}) for _ in range(30)]
                             + [("fail", {"unrecoverable": True}, {}) for _ in range(2)])
        await wait_for(lambda: all(job_state(r, Q, i) in ("completed", "failed") for i in ids), 30, "jobs done")

        # No reload from here: everything below arrives over the event stream.
        await page.wait_for_function("document.getElementById('s-processed').textContent === '30'", timeout=10_000)
        await page.wait_for_function("document.getElementById('s-failed').textContent === '2'", timeout=10_000)
        # Killed only now: a SIGKILLed worker's completions since its last heartbeat are never reported
        # (BullMQ's completed set has them; the pool's counters may miss up to one heartbeat's worth).
        victim = next(iter(pool.sup.state.workers.values()))
        assert victim.pid is not None
        os.kill(victim.pid, signal.SIGKILL)
        await page.wait_for_function(
            "document.getElementById('restarts').textContent.includes('died unexpectedly')", timeout=10_000)
        assert "scale up" in await text(page, "#scaling")
        points_after = int(await page.locator("#chart-pool").get_attribute("data-points") or 0)
        assert points_after > points_before + 3
        assert await page.locator("#chart-pool path").count() == 3  # workers, busy, backlog
        rows = await page.locator("#workers tr[data-worker]").count()
        assert rows == len(pool.sup.state.workers)
        assert "/ 256" in await text(page, "#workers tbody")  # memory shown against the limit
        assert Q in await text(page, "#queues tbody")

        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "dashboard.png"
        await page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
        assert errors == [], errors
