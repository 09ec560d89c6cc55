"""Resumable photo uploads in Chromium: a connection cut in the middle of a photo costs
only the bytes that were lost, not the photo (backend/routes/uploads.py, sync.js)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid

import pytest

from tests.browser.conftest import controlled, fill_observation, log_in, save, wait_pending
from tests.browser.test_pwa import observation_rows, photo_rows

pytestmark = pytest.mark.browser

UPLOAD_START = re.compile(rb"(PUT|PATCH|HEAD) /api/v1/photos/[0-9a-f-]{36}(/upload|\?)")


class CuttingProxy:
    """A loopback TCP proxy that counts the bytes each photo request sends, and cuts
    the connection of the first `cuts` uploads after `cut_after` of their bytes, as a
    phone losing its network mid-photo does (CDP's offline emulation lets a body in
    flight through, so it cannot show this). After a cut the network stays down for
    `down_s`. Every answer says `Connection: close`: Chromium resends a request cut on a
    reused keep-alive connection at once, by itself, from its first byte (a retry that
    fails at once on a phone without network); on a fresh connection the page sees the
    failure, as it does when the network is really gone."""

    def __init__(self, upstream_port: int, *, cuts: int, cut_after: int, down_s: float = 1.5):
        self.upstream_port, self.cuts, self.cut_after = upstream_port, cuts, cut_after
        self.down_s, self.down_until = down_s, 0.0
        self.requests: list[list] = []  # [method, bytes sent from its request line]
        self.server = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def close(self) -> None:
        self.server.close()
        with contextlib.suppress(Exception):
            await self.server.wait_closed()

    async def _serve(self, reader, writer) -> None:
        if asyncio.get_running_loop().time() < self.down_until:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        back = asyncio.create_task(self._pipe(up_reader, writer))
        current, cut_at = None, None
        try:
            while chunk := await reader.read(65536):
                found = UPLOAD_START.search(chunk)
                if found:
                    current = [found[1].decode(), len(chunk) - found.start()]
                    self.requests.append(current)
                    cut_at = None
                    if found[1] != b"HEAD" and self.cuts > 0:
                        self.cuts -= 1
                        cut_at = self.cut_after
                elif current is not None:
                    current[1] += len(chunk)
                if cut_at is not None and current[1] >= cut_at:
                    keep = len(chunk) - (current[1] - cut_at)
                    current[1] = cut_at
                    up_writer.write(chunk[:max(0, keep)])
                    await up_writer.drain()
                    self.down_until = asyncio.get_running_loop().time() + self.down_s
                    break  # the network is gone: both sides see the connection drop
                up_writer.write(chunk)
                await up_writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            for w in (writer, up_writer):
                with contextlib.suppress(Exception):
                    w.transport.abort()
            back.cancel()

    @staticmethod
    async def _pipe(reader, writer) -> None:
        first = True
        with contextlib.suppress(Exception):
            while chunk := await reader.read(65536):
                if first:
                    chunk = chunk.replace(b"\r\n\r\n", b"\r\nconnection: close\r\n\r\n", 1)
                    first = False
                writer.write(chunk)
                await writer.drain()


async def test_a_photo_cut_twice_mid_upload_is_sent_once_and_stored_once(browser, server,
                                                                        big_photos):
    port = int(server.url.rsplit(":", 1)[1])
    proxy = CuttingProxy(port, cuts=0, cut_after=0)
    url = await proxy.start()
    context = await browser.new_context(base_url=url, viewport={"width": 360, "height": 740},
                                        locale="fr-FR", timezone_id="Europe/Paris")
    context.set_default_timeout(20_000)
    context.on("console", lambda m: print(f"console.{m.type}: {m.text}"))
    try:
        page = await context.new_page()
        await log_in(page)
        await controlled(page)
        await page.goto(f"/enrolments/{server.enrolment_id}/observe")
        await page.wait_for_selector("form[data-capture][data-enhanced=true]", state="attached")
        situation = f"Reprise {uuid.uuid4().hex[:8]}"
        await context.set_offline(True)
        await fill_observation(page, situation, ratings={"C1.1.a": "met"},
                               photos=big_photos[:1])
        await save(page)
        await wait_pending(page, 2)
        size = await page.evaluate(
            "() => import('/static/js/outbox.js').then(o => o.listPhotos())"
            ".then(ps => ps[0].blob.size)")
        # Two cuts: after a third of the photo, then after a third of what is left.
        proxy.cuts, proxy.cut_after = 2, size // 3
        await context.set_offline(False)
        await wait_pending(page, 0, timeout_ms=60_000)
    finally:
        await context.close()
        await proxy.close()

    photo_requests = [r for r in proxy.requests if r[0] in ("PUT", "PATCH")]
    print(f"photo {size} B; requests {proxy.requests}")
    methods = [r[0] for r in proxy.requests]
    assert methods[:1] == ["PUT"] and "HEAD" in methods and "PATCH" in methods, methods
    assert len(photo_requests) == 3, proxy.requests  # creation, cut; append, cut; append
    sent = sum(r[1] for r in photo_requests)
    # Each request also carries its head (< 1.5 kB): the photo went once, not three times.
    assert size <= sent < size + 3 * 1500, (size, sent)

    rows = observation_rows(server, situation)
    assert len(rows) == 1
    refs = [ref["id"] for ref in json.loads(rows[0][1])]
    assert len(refs) == 1 and len(photo_rows(server, refs)) == 1
    received = server.rows("SELECT received_sha256 FROM photo WHERE id = ?", refs[0])
    assert received and len(received[0][0]) == 64
    leftovers = list((server.data_dir / "photos" / ".uploads").glob("*.part"))
    assert not [p for p in leftovers if p.name.startswith(refs[0])]  # no bytes kept after
