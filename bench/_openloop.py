"""Open-loop load: requests arrive at a set rate whatever the server's answers (Poisson
arrivals, fixed seed), as people opening their page do. A closed loop (wrk -c8) keeps 8
requests in flight and so measures queueing behind a saturated worker, not latency at a
given traffic. Latency counts from each request's scheduled time, so a server falling
behind is charged for the wait (no coordinated omission).

The client is a few lines of asyncio over keep-alive HTTP/1.1 connections, like wrk
(no Accept-Encoding): httpx added 5-10 ms per request on this machine, more than the
server's own time. It runs in this process on the same 2 cores as the server and
PostgreSQL, as wrk does.
"""

from __future__ import annotations

import asyncio
import random
from urllib.parse import urlsplit

# uvicorn closes a keep-alive connection after 5 s idle; one idle longer than this is
# closed here first rather than found dead by the next request.
IDLE_SECONDS = 2.0


class _Connections:
    """Idle keep-alive connections to one server, opened on demand."""

    def __init__(self, base: str):
        url = urlsplit(base)
        self.host, self.port = url.hostname, url.port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []

    async def _connection(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        now = asyncio.get_running_loop().time()
        while self.idle:
            reader, writer, since = self.idle.pop()
            if now - since < IDLE_SECONDS:
                return reader, writer
            writer.close()
        return await asyncio.open_connection(self.host, self.port)

    async def get(self, path: str, cookie: str) -> int:
        reader, writer = await self._connection()
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                     f"Cookie: carnet={cookie}\r\n\r\n".encode())
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        length = next(int(h.split(":", 1)[1]) for h in head
                      if h.lower().startswith("content-length:"))
        await reader.readexactly(length)
        self.idle.append((reader, writer, asyncio.get_running_loop().time()))
        return status

    def close(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()


async def open_loop(base: str, requests: list[tuple[str, str]], rate: float, seconds: float,
                    seed: int = 7) -> dict:
    """`requests`: (path, session cookie) pairs, used in order, cycling. Returns the
    latencies (ms) of every request, the count of non-200 answers and the achieved rate."""
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    connections = _Connections(base)
    latencies: list[float] = []
    failures = 0

    async def one(index: int, due: float) -> None:
        nonlocal failures
        status = await connections.get(*requests[index % len(requests)])
        latencies.append((loop.time() - due) * 1e3)
        failures += status != 200

    tasks, start, due, index = [], loop.time(), 0.0, 0
    while True:
        due += rng.expovariate(rate)
        if due > seconds:
            break
        delay = start + due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(index, start + due)))
        index += 1
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    elapsed = loop.time() - start
    connections.close()
    return {"latencies": latencies, "failures": failures, "sent": index,
            "rate": index / elapsed}
