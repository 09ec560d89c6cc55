"""App shell weight: bytes sent to the tutor's phone on a first and a repeat visit.

Bar: app shell ≤ 60 KB compressed on first visit; repeat visits served
from cache.

Chromium (Playwright) talks to the real server (bench/bench_app.py under uvicorn)
through the byte-counting proxy (bench/_proxy.py), which pairs every response
with its request, so the service worker's own fetches (install precache, pages
kept for offline use) are counted too.

- first visit: empty browser profile, session cookie already set (as after the
  login), open /tutor, wait until the worker controls the page and the network
  has been quiet for 3 s;
- repeat visit: open /tutor again in the same profile (the worker in control);
- also: the whole first session starting from the login page.

Wire bytes are reported as sent (the script says whether the app sent a
Content-Encoding); for each text response that came uncompressed, the gzip -9
(Starlette's GZipMiddleware level) and brotli q11 (pre-compressed static files at
a proxy) sizes are computed from the body; compressed answers and images count
as they are.

    python bench/shell_weight.py
"""

from __future__ import annotations

import asyncio
import gzip
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import brotli  # noqa: E402

from bench._common import (  # noqa: E402
    PASSWORD,
    carnet_env,
    carnet_seed,
    header,
    login_cookie,
    uvicorn_server,
    verdict,
)
from bench._proxy import CountingProxy, Req  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PHONE = {"width": 360, "height": 740}
BAR_KB = 60
TEXT = ("text/", "application/json", "application/javascript", "application/manifest+json",
        "image/svg+xml")


def sizes(r: Req) -> tuple[int, int, int]:
    """(wire, gzip, brotli) bytes of the answer: head + body."""
    body = bytes(r.resp_body)
    ctype = r.resp_headers.get("content-type", "")
    if r.resp_headers.get("content-encoding") or not ctype.startswith(TEXT) or not body:
        return (r.resp_head + len(body),) * 3
    return (r.resp_head + len(body), r.resp_head + len(gzip.compress(body, 9)),
            r.resp_head + len(brotli.compress(body, quality=11)))


def kind(r: Req, page_paths: set[str]) -> str:
    path = r.path.split("?")[0]
    if path.startswith("/static/js/") or path == "/sw.js":
        return "js"
    if path.startswith("/static/css/"):
        return "css"
    if path.startswith("/static/icons/"):
        return "icons"
    if path == "/manifest.webmanifest":
        return "manifest"
    if path == "/offline":
        return "offline page"
    if path.startswith("/api/"):
        return "api"
    if path in page_paths:
        return "page (HTML)"
    return "pages kept for offline"


async def quiet(proxy: CountingProxy, seconds: float = 3.0, bound: float = 60.0) -> None:
    """Until no new request for `seconds` (bounded)."""
    start, last_n, last_t = time.monotonic(), -1, time.monotonic()
    while time.monotonic() - start < bound:
        n = len(proxy.stats.requests)
        if n != last_n:
            last_n, last_t = n, time.monotonic()
        elif time.monotonic() - last_t >= seconds:
            return
        await asyncio.sleep(0.2)


def table(title: str, reqs: list[Req], page_paths: set[str]) -> dict:
    groups: dict[str, list[int]] = {}
    for r in reqs:
        w, g, b = sizes(r)
        row = groups.setdefault(kind(r, page_paths), [0, 0, 0, 0])
        row[0] += 1
        row[1] += w
        row[2] += g
        row[3] += b
    total = [sum(v[i] for v in groups.values()) for i in range(4)]
    print(f"\n  {title}: {total[0]} responses")
    print(f"    {'what':26s} {'n':>3s} {'wire B':>9s} {'gzip-9 B':>9s} {'brotli B':>9s}")
    for name, v in sorted(groups.items(), key=lambda kv: -kv[1][1]):
        print(f"    {name:26s} {v[0]:3d} {v[1]:9,d} {v[2]:9,d} {v[3]:9,d}")
    print(f"    {'total':26s} {total[0]:3d} {total[1]:9,d} {total[2]:9,d} {total[3]:9,d}")
    return {"n": total[0], "wire": total[1], "gzip": total[2], "brotli": total[3],
            "groups": groups}


async def run(base: str, cookie: str, tutor: str, proxy: CountingProxy) -> dict:
    from playwright.async_api import async_playwright

    out = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=LAUNCH_ARGS)
        try:
            # 1. first visit to /tutor, session cookie set
            context = await browser.new_context(base_url=base, viewport=PHONE, locale="fr-FR")
            await context.add_cookies([{"name": "carnet", "value": cookie, "url": base}])
            page = await context.new_page()
            start = len(proxy.stats.requests)
            await page.goto("/tutor")
            await page.wait_for_function("() => navigator.serviceWorker.controller !== null",
                                         timeout=60_000)
            await quiet(proxy)
            out["first"] = proxy.stats.requests[start:]
            # 2. repeat visit, same profile
            start = len(proxy.stats.requests)
            await page.goto("/tutor")
            await page.wait_for_load_state("load")
            await quiet(proxy)
            out["repeat"] = proxy.stats.requests[start:]
            # 3. repeat visit offline: served by the worker
            await context.set_offline(True)
            start = len(proxy.stats.requests)
            resp = await page.goto("/tutor")
            out["offline_ok"] = bool(resp and resp.ok) and "Mes candidats" in await page.content()
            await context.set_offline(False)
            out["offline"] = proxy.stats.requests[start:]
            await context.close()
            # 4. the whole first session, from the login page
            context = await browser.new_context(base_url=base, viewport=PHONE, locale="fr-FR")
            page = await context.new_page()
            start = len(proxy.stats.requests)
            await page.goto("/login?next=/tutor")
            await page.fill("#email", tutor)
            await page.fill("#password", PASSWORD)
            await page.click("form[action='/login'] button[type=submit]")
            await page.wait_for_url("**/tutor")
            await page.wait_for_function("() => navigator.serviceWorker.controller !== null",
                                         timeout=60_000)
            await quiet(proxy)
            out["login"] = proxy.stats.requests[start:]
            await context.close()
        finally:
            await browser.close()
    return out


def main() -> int:
    header("shell_weight: bytes to the tutor's phone, first and repeat visit")
    data = Path(tempfile.mkdtemp(prefix="carnet-bench-shell-"))
    try:
        url = f"sqlite://{data}/carnet.sqlite3"
        env = carnet_env(url, data)
        rep = carnet_seed(env, 3, 5)  # a tutor with 3 candidates
        with uvicorn_server(env) as (server_base, _):
            port = int(server_base.rsplit(":", 1)[1])
            cookie = login_cookie(server_base, rep["tutor"])
            with CountingProxy(port) as proxy:
                base = f"http://127.0.0.1:{proxy.port}"
                res = asyncio.run(run(base, cookie, rep["tutor"], proxy))
        pages = {"/tutor", "/login", "/"}
        encodings = {r.resp_headers.get("content-encoding") for r in res["first"]} - {None}
        print(f"  the app sends Content-Encoding: {sorted(encodings) or 'none (uncompressed)'}")
        first = table("first visit to /tutor (cookie set, empty profile)", res["first"], pages)
        for r in res["first"]:
            w, g, b = sizes(r)
            print(f"      {r.status} {r.path[:60]:60s} {w:8,d} {g:8,d}  "
                  f"cache-control: {r.resp_headers.get('cache-control', '-')}")
        shell = {k: v for k, v in first["groups"].items() if k != "pages kept for offline"}
        shell_gzip = sum(v[2] for v in shell.values())
        shell_wire = sum(v[1] for v in shell.values())
        shell_br = sum(v[3] for v in shell.values())
        kept = first["groups"].get("pages kept for offline", [0, 0, 0, 0])
        repeat = table("repeat visit to /tutor (worker in control)", res["repeat"], pages)
        for r in res["repeat"]:
            print(f"      {r.status} {r.path[:60]:60s} {sizes(r)[0]:8,d}")
        print(f"\n  offline repeat visit: {len(res['offline'])} requests reached the server; "
              f"page shown from the worker's cache: {res['offline_ok']}")
        login = table("first session from the login page (login page + POST + /tutor)",
                      res["login"], pages)
        print(f"\n  shell (page + CSS + JS + manifest + icons + worker + precache), first visit: "
              f"wire {shell_wire / 1000:.1f} kB, gzip {shell_gzip / 1000:.1f} kB, brotli "
              f"{shell_br / 1000:.1f} kB; plus pages kept for offline by the worker: "
              f"{kept[0]} pages, wire {kept[1] / 1000:.1f} kB / gzip {kept[2] / 1000:.1f} kB")
        print(f"  repeat visit: {repeat['n']} requests, wire {repeat['wire'] / 1000:.1f} kB "
              f"(gzip {repeat['gzip'] / 1000:.1f} kB)")
        print(f"  first session incl. login: wire {login['wire'] / 1000:.1f} kB, gzip "
              f"{login['gzip'] / 1000:.1f} kB")
        print()
        ok = shell_gzip <= BAR_KB * 1000
        note = ("as sent: the app does not compress" if not encodings else
                f"as sent: the app compresses ({', '.join(sorted(encodings))})")
        verdict(ok, f"first-visit shell {shell_gzip / 1000:.1f} kB gzip-9 ({shell_wire / 1000:.1f}"
                    f" kB on the wire {note}), bar ≤ {BAR_KB} kB compressed; repeat visit "
                    f"{repeat['wire'] / 1000:.1f} kB")
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
