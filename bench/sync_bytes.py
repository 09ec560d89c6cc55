"""Sync bytes: the PWA's offline outbox after a flapping slow-3G uplink.

Bar: queue 30 observations / 90 photos; after a flapping network,
bytes sent ≤ 1.1× the payload, 0 lost, 0 duplicated.

- The real server (bench/bench_app.py under uvicorn, SQLite) behind a loopback
  byte-counting proxy (bench/_proxy.py): every byte Chromium sends is counted and
  attributed to its request, aborted uploads included (what crossed the wire).
- Chromium (Debian's, Playwright for Python) logs in as the seeded tutor, opens the
  real capture page (pwa/js/capture.js enhances it), goes offline, and records N
  observations with 3 photos each (4000×3000 JPEGs, distinct; the page downscales
  them to ≤ 2000 px before queueing them in IndexedDB).
- Payload = the downscaled photos' bytes as queued + each observation's JSON body.
- Then online, throttled through CDP `Network.emulateNetworkConditions` to a slow
  3G uplink (default: 50,000 B/s up, 50,000 B/s down, 400 ms latency, as in
  bench/README.md), going offline every --flap-every seconds for --flap-for seconds
  (--flaps times) while the outbox drains. Bounded by --timeout.
- Then the server's database: every queued UUID present (losses), no photo stored
  twice (same received bytes under two ids; a UUID cannot repeat) and no upload
  completed twice with a 2xx (duplicated transfers).

    python bench/sync_bytes.py [--observations 30] [--uplink 50000] [--flaps 6]

With `--cut` the proxy also drops every open connection and refuses new ones while
offline (a real loss of coverage: an upload stops mid-body, and the resumable upload
sends only the rest). The resumable-upload bar (issue "faster where the tutor waits",
2) is `--cut --flap-every 3 --flap-for 3 --flaps 100000 --bar 1.2`.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image, ImageDraw  # noqa: E402

from bench._common import (  # noqa: E402
    PASSWORD,
    carnet_env,
    carnet_seed,
    header,
    loadavg,
    uvicorn_server,
    verdict,
)
from bench._proxy import CountingProxy  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PHONE = {"width": 360, "height": 740}
BAR = 1.1


def phone_photo(path: Path, seed: int, size=(4000, 3000)) -> Path:
    """A 12 MP phone-like JPEG (q88): smooth colour fields, sharp strokes, a marker."""
    rng = random.Random(seed)
    small = (size[0] // 32, size[1] // 32)
    channels = [Image.effect_noise(small, 30 + 10 * c).point(
        lambda v, c=c, s=seed: (v + 60 * c + 7 * s) % 256) for c in range(3)]
    image = Image.merge("RGB", channels).resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(300):
        x, y = rng.randrange(size[0]), rng.randrange(size[1])
        draw.line((x, y, x + rng.randrange(-400, 400), y + rng.randrange(-400, 400)),
                  fill=tuple(rng.randrange(256) for _ in range(3)), width=rng.randrange(1, 6))
    draw.text((40, 40), f"photo {seed}", fill=(255, 255, 255))
    exif = Image.Exif()
    exif[0x010F] = "BenchPhone"
    exif.get_ifd(0x8769)[0x9003] = "2026:03:14 09:26:53"
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=88, exif=exif)
    path.write_bytes(buf.getvalue())
    return path


async def set_network(cdp, *, offline: bool, args) -> None:
    await cdp.send("Network.emulateNetworkConditions", {
        "offline": offline, "latency": args.latency,
        "downloadThroughput": args.downlink, "uploadThroughput": args.uplink})


async def outbox_state(page) -> dict:
    return await page.evaluate("""async () => {
        const o = await import('/static/js/outbox.js');
        const [obs, photos, count] = await Promise.all([o.listObservations(), o.listPhotos(),
                                                        o.pendingCount()]);
        const enc = new TextEncoder();
        return {count,
          observations: obs.map(x => ({id: x.id, state: x.state,
                                       json: enc.encode(JSON.stringify(x.body)).length})),
          photos: photos.map(p => ({id: p.id, size: p.size, sha256: p.sha256,
                                    state: p.state, width: p.width, height: p.height,
                                    observation: p.observation}))};
    }""")


async def record(page, index: int, photos: list[Path], codes: list[str], target: str) -> float:
    """One observation through the real capture form; returns seconds to 'saved'."""
    t0 = time.perf_counter()
    # The optional fields are folded under one line since the tutor's minute: unfold.
    await page.evaluate("() => { const d = document.querySelector("
                        "'form[data-capture] details.more'); if (d) d.open = true; }")
    await page.fill("#situation", f"Ouvrage bench n°{index}")
    await page.fill("#place", "Atelier")
    await page.evaluate("""([codes, target]) => {
        for (const [i, code] of codes.entries()) {
          const value = ['met', 'progressing', 'met'][i % 3];
          document.querySelector(`input[name='rating-${code}'][value='${value}']`).checked = true;
        }
        document.querySelector('[data-photo-target]').value = target;
    }""", [codes, target])
    await page.set_input_files("#photos", [str(p) for p in photos])
    await page.wait_for_function(
        "n => document.querySelectorAll('[data-thumbs] img[src^=\"blob:\"]').length === n",
        arg=len(photos), timeout=120_000)
    await page.click("[data-save]")
    await page.wait_for_function("() => document.querySelector('#situation').value === ''",
                                 timeout=60_000)
    return time.perf_counter() - t0


async def browser_run(args, base: str, enrolment: int, tutor: str, photos: list[Path],
                      proxy: CountingProxy) -> dict:
    from playwright.async_api import async_playwright

    out: dict = {"attempts": Counter(), "ok": Counter(), "failed": Counter(), "flaps": 0}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=LAUNCH_ARGS)
        try:
            context = await browser.new_context(base_url=base, viewport=PHONE, locale="fr-FR",
                                                timezone_id="Europe/Paris")
            context.set_default_timeout(60_000)
            page = await context.new_page()
            cdp = await context.new_cdp_session(page)
            await cdp.send("Network.enable")
            urls: dict[str, str] = {}

            def sent(e):
                r = e["request"]
                if r["method"] in ("PUT", "PATCH"):
                    urls[e["requestId"]] = r["url"]
                    out["attempts"][r["url"]] += 1

            def received(e):
                url = urls.get(e["requestId"])
                if url and 200 <= e["response"]["status"] < 300:
                    out["ok"][url] += 1

            def failed(e):
                url = urls.get(e["requestId"])
                if url:
                    out["failed"][e.get("errorText", "?")] += 1

            cdp.on("Network.requestWillBeSent", sent)
            cdp.on("Network.responseReceived", received)
            cdp.on("Network.loadingFailed", failed)
            # Log in, let the worker install and take control, open the capture page.
            await page.goto("/login?next=/tutor")
            await page.fill("#email", tutor)
            await page.fill("#password", PASSWORD)
            await page.click("form[action='/login'] button[type=submit]")
            await page.wait_for_url("**/tutor")
            await page.wait_for_function("() => navigator.serviceWorker.controller !== null")
            await page.goto(f"/enrolments/{enrolment}/observe")
            await page.wait_for_selector("form[data-capture][data-enhanced=true]",
                                         state="attached")
            codes = await page.evaluate(
                "() => [...document.querySelectorAll('[data-criterion]')].map(e => "
                "e.dataset.criterion)")
            targets = await page.evaluate(
                "() => [...document.querySelectorAll('[data-photo-target] option')]"
                ".map(o => o.value).filter(v => v.includes('|'))")
            # Offline: the tutor records everything in a basement.
            await set_network(cdp, offline=True, args=args)
            out["online_after_offline"] = await page.evaluate("navigator.onLine")
            times = []
            for i in range(args.observations):
                chosen = [codes[(3 * i + k) % len(codes)] for k in range(3)]
                target = targets[i % len(targets)] if targets else ""
                times.append(await record(page, i, photos[3 * i:3 * i + 3], chosen, target))
            out["record_seconds"] = times
            queued = await outbox_state(page)
            out["queued"] = queued
            # Back in coverage, on a slow, flapping uplink.
            before = proxy.stats.snapshot()
            out["requests_before"] = before[2]
            t0 = time.monotonic()
            await set_network(cdp, offline=False, args=args)
            out["online_after_online"] = await page.evaluate("navigator.onLine")
            deadline = t0 + args.timeout
            next_flap = t0 + args.flap_every
            count = queued["count"]["total"]
            progress_at = t0
            while time.monotonic() < deadline:
                await asyncio.sleep(1)
                state = await outbox_state(page)
                remaining = state["count"]["total"]
                if remaining != count:
                    count, progress_at = remaining, time.monotonic()
                    print(f"    t={time.monotonic() - t0:6.0f} s  pending {remaining:3d}  "
                          f"sent {proxy.stats.upstream - before[0]:,} B", flush=True)
                stuck = [x for x in state["observations"] + state["photos"]
                         if x["state"] in ("stuck", "conflict")]
                if remaining == 0 or (stuck and remaining == len(stuck)):
                    break
                if out["flaps"] < args.flaps and time.monotonic() >= next_flap:
                    await set_network(cdp, offline=True, args=args)
                    if args.cut:
                        proxy.set_down(True)
                    await asyncio.sleep(args.flap_for)
                    if args.cut:
                        proxy.set_down(False)
                    await set_network(cdp, offline=False, args=args)
                    out["flaps"] += 1
                    next_flap = time.monotonic() + args.flap_every
                    print(f"    t={time.monotonic() - t0:6.0f} s  flap {out['flaps']} "
                          f"(offline {args.flap_for} s)", flush=True)
            out["drain_seconds"] = time.monotonic() - t0
            out["upstream_online"] = proxy.stats.upstream - before[0]
            out["final"] = await outbox_state(page)
            out["last_progress_seconds"] = progress_at - t0
        finally:
            await browser.close()
    return out


def db_rows(data: Path, sql: str, *params) -> list[tuple]:
    db = sqlite3.connect(f"file:{data / 'carnet.sqlite3'}?mode=ro", uri=True)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--observations", type=int, default=30)
    parser.add_argument("--uplink", type=int, default=50_000, help="bytes/s")
    parser.add_argument("--downlink", type=int, default=50_000, help="bytes/s")
    parser.add_argument("--latency", type=int, default=400, help="ms")
    parser.add_argument("--flaps", type=int, default=6)
    parser.add_argument("--flap-every", type=float, default=45.0, help="seconds online")
    parser.add_argument("--flap-for", type=float, default=5.0, help="seconds offline")
    parser.add_argument("--timeout", type=float, default=2400.0, help="bound on the drain")
    parser.add_argument("--cut", action="store_true",
                        help="the proxy also cuts open connections and refuses new ones "
                             "while offline (a real drop: uploads stop mid-body)")
    parser.add_argument("--bar", type=float, default=BAR, help="bytes sent / payload bar")
    args = parser.parse_args()
    header("sync_bytes: PWA outbox over a flapping slow-3G uplink (Chromium + CDP)")
    data = Path(tempfile.mkdtemp(prefix="carnet-bench-sync-"))
    try:
        url = f"sqlite://{data}/carnet.sqlite3"
        env = carnet_env(url, data)
        rep = carnet_seed(env, 1, 0)
        enrolment, tutor = rep["first_enrolment"], rep["tutor"]
        t = time.monotonic()
        folder = data / "camera"
        folder.mkdir()
        photos = [phone_photo(folder / f"IMG_{i:04d}.jpg", i)
                  for i in range(3 * args.observations)]
        sizes = [p.stat().st_size for p in photos]
        print(f"  {len(photos)} camera photos 4000×3000, {sum(sizes) / len(sizes) / 1e6:.2f} MB "
              f"each on average (generated in {time.monotonic() - t:.0f} s)")
        print(f"  network: uplink {args.uplink:,} B/s, downlink {args.downlink:,} B/s, latency "
              f"{args.latency} ms; {args.flaps} flaps of {args.flap_for:.0f} s offline every "
              f"{args.flap_every:.0f} s online", flush=True)
        with uvicorn_server(env) as (server_base, _):
            port = int(server_base.rsplit(":", 1)[1])
            with CountingProxy(port) as proxy:
                base = f"http://127.0.0.1:{proxy.port}"
                run = asyncio.run(browser_run(args, base, enrolment, tutor, photos, proxy))
        # --- figures ---------------------------------------------------------------
        queued = run["queued"]
        q_photos, q_obs = queued["photos"], queued["observations"]
        photo_bytes = sum(p["size"] for p in q_photos)
        json_bytes = sum(o["json"] for o in q_obs)
        payload = photo_bytes + json_bytes
        reqs = proxy.stats.requests[run["requests_before"]:]
        photo_reqs = [r for r in reqs if r.method in ("PUT", "PATCH", "HEAD")
                      and r.path.startswith("/api/v1/photos/")]
        obs_reqs = [r for r in reqs if r.method == "PUT"
                    and r.path.startswith("/api/v1/observations/")]
        other = [r for r in reqs if r not in photo_reqs and r not in obs_reqs]
        sync_sent = sum(r.sent for r in photo_reqs + obs_reqs)
        heads = sum(r.head for r in photo_reqs + obs_reqs)
        aborted = [r for r in photo_reqs + obs_reqs if not r.complete]
        wasted = sum(r.body for r in aborted)
        by_id = defaultdict(int)
        for r in photo_reqs + obs_reqs:
            if r.complete and r.method == "PUT":
                by_id[r.path.split("?")[0]] += 1
        repeated_complete = {k: v for k, v in by_id.items() if v > 1}
        ok_twice = {u: n for u, n in run["ok"].items() if n > 1}
        # --- the server's database ---------------------------------------------------
        db_photos = db_rows(data, "SELECT id, received_sha256, size, thumb_size, width, height "
                                  "FROM photo WHERE enrolment_id = ?", enrolment)
        db_obs = db_rows(data, "SELECT id, photos FROM observation WHERE enrolment_id = ?",
                         enrolment)
        norm = lambda v: str(v).replace("-", "").lower()  # noqa: E731
        db_photo_ids = {norm(r[0]) for r in db_photos}
        db_obs_ids = {norm(r[0]) for r in db_obs}
        lost_photos = [p["id"] for p in q_photos if norm(p["id"]) not in db_photo_ids]
        lost_obs = [o["id"] for o in q_obs if norm(o["id"]) not in db_obs_ids]
        received = Counter(r[1] for r in db_photos)
        dup_content = sum(n - 1 for n in received.values() if n > 1)
        extra_rows = (len(db_photos) - len(q_photos)) + (len(db_obs) - len(q_obs))
        mismatched = [p["id"] for p in q_photos
                      if any(norm(r[0]) == norm(p["id"]) and r[1] != p["sha256"]
                             for r in db_photos)]
        stored = sum(r[2] + r[3] for r in db_photos)
        ratio = sync_sent / payload if payload else float("nan")
        rec = run["record_seconds"]
        print(f"\n  navigator.onLine offline/online under CDP: {run['online_after_offline']}/"
              f"{run['online_after_online']}")
        print(f"  recorded {len(q_obs)} observations / {len(q_photos)} photos offline through the "
              f"capture page: median {sorted(rec)[len(rec) // 2]:.1f} s each (3 photos "
              f"downscaled on the page + save), max {max(rec):.1f} s")
        ws = [p["width"] for p in q_photos]
        print(f"  queued photos: {min(ws)}–{max(ws)} px wide, "
              f"{photo_bytes / len(q_photos) / 1e3:.0f} kB average after the phone's downscale")
        print(f"  payload: photos {photo_bytes:,} B + observation JSON {json_bytes:,} B = "
              f"{payload:,} B")
        print(f"  sent (proxy, browser→server, sync requests): {sync_sent:,} B = heads "
              f"{heads:,} B + bodies {sync_sent - heads:,} B; of which aborted attempts "
              f"{len(aborted)} ({wasted:,} B of body)")
        print(f"  requests: photo PUTs {len(photo_reqs)} (for {len(q_photos)} photos), "
              f"observation PUTs {len(obs_reqs)} (for {len(q_obs)}); other requests "
              f"{len(other)} ({sum(r.sent for r in other):,} B); all browser→server bytes "
              f"after going online {run['upstream_online']:,} B (whole session incl. login and "
              f"pages {proxy.stats.upstream:,} B)")
        print(f"  CDP: PUT attempts {sum(run['attempts'].values())}, 2xx {sum(run['ok'].values())}"
              f", failures {dict(run['failed'])}")
        print(f"  drained in {run['drain_seconds']:.0f} s ({run['flaps']} flaps); effective "
              f"{sync_sent / max(run['last_progress_seconds'], 1e-6) / 1e3:.1f} kB/s of "
              f"{args.uplink / 1e3:.0f} kB/s; left in outbox: {run['final']['count']}")
        print(f"  server: {len(db_obs)} observations, {len(db_photos)} photos; lost "
              f"{len(lost_obs)} obs + {len(lost_photos)} photos; duplicated records: same bytes "
              f"under two ids {dup_content}, extra rows {max(extra_rows, 0)}; hash mismatches "
              f"{len(mismatched)}")
        print(f"  transfers repeated in full (server got the whole body, the page aborted the "
              f"request on `offline`, the retry sent it again; counted in the bytes): "
              f"{len(repeated_complete)} (2xx seen twice by the page: {len(ok_twice)})")
        print("  note: CDP's offline emulation does not cut an upload in flight: Chromium "
              "flushes the rest of the body unthrottled (checked with the proxy), so each flap "
              "during an upload costs one whole photo here; a real drop cuts it mid-way "
              "(half a photo on average). The ratio above is the pessimistic side.")
        print(f"  stored on the server: {stored:,} B for {len(db_photos)} photos (2560-px cap, "
              f"q85 + 320-px thumb) → {stored / max(len(q_obs), 1) / 1e3:.0f} kB per observation "
              "with 3 photos (files only)")
        lost = len(lost_obs) + len(lost_photos) + run["final"]["count"]["total"]
        dups = dup_content + max(extra_rows, 0)
        print()
        kinds = Counter(r.method for r in photo_reqs)
        print(f"  photo requests by method: {dict(kinds)} (HEAD: offset asked; PATCH: the rest "
              f"of a photo sent from its offset)")
        verdict(ratio <= args.bar and lost == 0 and dups == 0,
                f"bytes sent {ratio:.3f}× payload (bar ≤ {args.bar}), lost {lost}, duplicated "
                f"{dups} (bars 0, 0); load {loadavg()}")
        print("  details: " + json.dumps({"repeated_complete": list(repeated_complete)[:5],
                                          "lost": (lost_obs + lost_photos)[:5]}))
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
