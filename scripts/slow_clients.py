"""Open many slow HTTP clients against a running corral daemon and report what became of them.

    python scripts/slow_clients.py --port 5454 --connections 300 --seconds 30

Each client connects and sends a request's headers one byte every `--drip` seconds, never finishing them
(a "slow loris"). After `--seconds` it prints how many the daemon refused at once (503: over
`max_connections`), cut off (408: `header_timeout` passed), closed otherwise, and how many are still open;
and whether a normal `GET /healthz` was answered meanwhile. Exit 1 if any is still open.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter


async def slow_client(host: str, port: int, drip: float, outcomes: Counter[str]) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        outcomes["could not connect"] += 1
        return
    writer.write(b"GET / HTTP/1.1\r\nHost: corral\r\nX-Slow: ")
    outcomes["open"] += 1
    answer = b""
    try:
        while True:
            try:
                answer += await asyncio.wait_for(reader.read(4096), drip)
                if reader.at_eof():
                    break
            except TimeoutError:
                writer.write(b"a")
                await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        outcomes["open"] -= 1
        writer.close()
    status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/1.1 ") else "no answer"
    outcomes[{"503": "refused (503)", "408": "cut off (408)"}.get(status, f"closed ({status})")] += 1


async def healthz(host: str, port: int) -> str:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: corral\r\nConnection: close\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer.split(b"\r\n", 1)[0].decode()


async def main(args: argparse.Namespace) -> int:
    outcomes: Counter[str] = Counter()
    started = time.monotonic()
    clients = [asyncio.create_task(slow_client(args.host, args.port, args.drip, outcomes))
               for _ in range(args.connections)]
    await asyncio.sleep(1)
    try:
        probe = await healthz(args.host, args.port)
    except (OSError, TimeoutError) as e:
        probe = f"failed: {e!r}"
    print(f"GET /healthz while {outcomes['open']} slow clients were open: {probe}")
    await asyncio.wait(clients, timeout=max(0.0, args.seconds - (time.monotonic() - started)))
    for c in clients:
        c.cancel()
    still_open = outcomes.pop("open", 0)
    print(f"after {args.seconds:g}s: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
          + f", still open {still_open}")
    return 1 if still_open else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5454)
    ap.add_argument("--connections", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--drip", type=float, default=1.0, help="seconds between two bytes of a client")
    sys.exit(asyncio.run(main(ap.parse_args())))
