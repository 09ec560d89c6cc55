"""A byte-counting loopback TCP proxy for HTTP/1.1, run in a background thread.

The browser talks to the proxy; the proxy forwards to the real server. Every byte
the browser sends is counted and attributed to the request it belongs to (request
head + body, as far as it got before the connection closed), so aborted uploads
count what really crossed the wire, not what the application meant to send.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field


@dataclass
class Req:
    method: str
    path: str
    head: int
    expected: int
    body: int = 0
    complete: bool = False
    headers: dict = field(default_factory=dict, repr=False)
    # The answer, when it came back complete on the same connection.
    status: int = 0
    resp_head: int = 0
    resp_body: bytearray = field(default_factory=bytearray, repr=False)
    resp_headers: dict = field(default_factory=dict, repr=False)
    resp_complete: bool = False

    @property
    def sent(self) -> int:
        return self.head + self.body


@dataclass
class Stats:
    upstream: int = 0  # browser → server, all bytes
    downstream: int = 0  # server → browser, all bytes
    connections: int = 0
    stray: int = 0  # bytes of a request head that never completed
    requests: list[Req] = field(default_factory=list)

    def snapshot(self) -> tuple[int, int, int]:
        return self.upstream, self.downstream, len(self.requests)


def _headers(lines: list[str]) -> dict:
    out = {}
    for line in lines:
        name, _, value = line.partition(":")
        out[name.strip().lower()] = value.strip()
    return out


class _Parser:
    def __init__(self, stats: Stats):
        self.stats, self.buf, self.remaining, self.current = stats, b"", 0, None
        self.mine: list[Req] = []  # this connection's requests, in order

    def feed(self, data: bytes) -> None:
        while data:
            if self.remaining == 0:
                self.buf += data
                data = b""
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head, data, self.buf = self.buf[:end + 4], self.buf[end + 4:], b""
                lines = head.decode("latin-1").split("\r\n")
                method, path = (lines[0].split(" ") + ["", ""])[:2]
                headers = _headers(lines[1:-2])
                length = int(headers.get("content-length") or 0)
                self.current = Req(method, path, len(head), length, headers=headers)
                self.stats.requests.append(self.current)
                self.mine.append(self.current)
                if length == 0:
                    self.current.complete = True
                self.remaining = length
            else:
                n = min(len(data), self.remaining)
                self.current.body += n
                self.remaining -= n
                data = data[n:]
                if self.remaining == 0:
                    self.current.complete = True

    def close(self) -> None:
        self.stats.stray += len(self.buf)


class _ResponseParser:
    """Pairs each response with the oldest unanswered request of the connection."""

    KEEP = 5_000_000  # bodies kept (to compress them later) up to this size

    def __init__(self, requests: list[Req]):
        self.requests, self.index = requests, 0
        self.buf, self.state, self.remaining, self.req = b"", "head", 0, None

    def _done(self) -> None:
        if self.req is not None:
            self.req.resp_complete = True
        self.state, self.req = "head", None

    def feed(self, data: bytes) -> None:
        self.buf += data
        while self.buf:
            if self.state == "head":
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head, self.buf = self.buf[:end + 4], self.buf[end + 4:]
                lines = head.decode("latin-1").split("\r\n")
                status = int(lines[0].split(" ")[1])
                headers = _headers(lines[1:-2])
                if 100 <= status < 200:
                    continue
                req = self.requests[self.index] if self.index < len(self.requests) else None
                self.index += 1
                if req is not None:
                    req.status, req.resp_head, req.resp_headers = status, len(head), headers
                self.req = req
                if (req is not None and req.method == "HEAD") or status in (204, 304):
                    self._done()
                elif "chunked" in headers.get("transfer-encoding", ""):
                    self.state = "chunk-size"
                elif "content-length" in headers:
                    self.remaining = int(headers["content-length"])
                    self.state = "body"
                    if self.remaining == 0:
                        self._done()
                else:
                    self.state, self.remaining = "body", 1 << 62  # until close
            elif self.state == "body":
                n = min(len(self.buf), self.remaining)
                self._keep(self.buf[:n])
                self.buf, self.remaining = self.buf[n:], self.remaining - n
                if self.remaining == 0:
                    self._done()
            elif self.state == "chunk-size":
                end = self.buf.find(b"\r\n")
                if end < 0:
                    return
                size = int(self.buf[:end].split(b";")[0], 16)
                self._count(end + 2)
                self.buf = self.buf[end + 2:]
                self.state, self.remaining = ("chunk", size) if size else ("trailer", 0)
            elif self.state == "chunk":
                n = min(len(self.buf), self.remaining)
                self._keep(self.buf[:n])
                self.buf, self.remaining = self.buf[n:], self.remaining - n
                if self.remaining == 0:
                    self.state = "chunk-end"
            elif self.state == "chunk-end":
                if len(self.buf) < 2:
                    return
                self._count(2)
                self.buf, self.state = self.buf[2:], "chunk-size"
            elif self.state == "trailer":
                end = self.buf.find(b"\r\n")
                if end < 0:
                    return
                self._count(end + 2)
                self.buf = self.buf[end + 2:]
                if end == 0:
                    self._done()

    def _keep(self, chunk: bytes) -> None:
        if self.req is not None and len(self.req.resp_body) < self.KEEP:
            self.req.resp_body += chunk

    def _count(self, n: int) -> None:
        if self.req is not None:
            self.req.resp_head += n  # chunk framing counts with the head


class CountingProxy:
    def __init__(self, target_port: int):
        self.target_port, self.stats = target_port, Stats()
        self.port = 0
        # "Down": the network is gone. Open connections are cut (what crossed stays
        # counted) and new ones refused, as on a phone losing coverage; CDP's offline
        # emulation alone lets a body in flight through.
        self.down = False
        self._open: set = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server = None

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def set_down(self, down: bool) -> None:
        def apply() -> None:
            self.down = down
            if down:
                for transport in list(self._open):
                    transport.abort()
                self._open.clear()

        self._loop.call_soon_threadsafe(apply)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter):
        self.stats.connections += 1
        if self.down:
            client_w.transport.abort()
            return
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.close()
            return
        self._open.update((client_w.transport, server_w.transport))
        parser = _Parser(self.stats)
        responses = _ResponseParser(parser.mine)

        async def pump(reader, writer, upstream: bool):
            try:
                while data := await reader.read(65536):
                    if upstream:
                        self.stats.upstream += len(data)
                        parser.feed(data)
                    else:
                        self.stats.downstream += len(data)
                        try:
                            responses.feed(data)
                        except (ValueError, IndexError):
                            responses.feed = lambda _data: None  # give up on this connection
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                try:
                    writer.close()
                except Exception:
                    pass

        await asyncio.gather(pump(client_r, server_w, True), pump(server_r, client_w, False))
        self._open.difference_update((client_w.transport, server_w.transport))
        parser.close()
