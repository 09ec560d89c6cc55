"""One observation with two photos over the 3G profile: from the tap on « Enregistrer »
to « Tout est envoyé ».

Bar (issue "faster where the tutor waits", 1): ≤ 15 s at 50,000 B/s up, 400 ms latency
(sync_bytes.py's profile, DevTools' "Slow 3G" uplink), in Chromium with network
throttling (CDP `Network.emulateNetworkConditions`), online throughout.

- The real server (bench/bench_app.py under uvicorn, SQLite) behind the counting proxy
  (bench/_proxy.py), Chromium logged in as the seeded tutor on the real capture page.
- Two 4000×3000 photos of sync_bytes.py's set are chosen in the form (the page
  downscales them as they are chosen, before the tap); one criterion rated; then the
  clock starts at the click on « Enregistrer » and stops when the page's status says
  « Tout est envoyé » with an empty outbox.
- `--tree DIR` runs another checkout of Carnet (e.g. `git archive <commit>`) with the
  same harness: the "before" figure on the same machine.

    python bench/three_g.py [--runs 3] [--tree /tmp/carnet-before]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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
from bench.sync_bytes import CHROMIUM, LAUNCH_ARGS, PHONE, phone_photo  # noqa: E402

BAR_SECONDS = 15.0


async def run(args, base: str, enrolment: int, tutor: str, photos: list[Path],
              proxy: CountingProxy) -> list[dict]:
    from playwright.async_api import async_playwright

    results = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=LAUNCH_ARGS)
        try:
            context = await browser.new_context(base_url=base, viewport=PHONE, locale="fr-FR",
                                                timezone_id="Europe/Paris")
            context.set_default_timeout(120_000)
            page = await context.new_page()
            cdp = await context.new_cdp_session(page)
            await cdp.send("Network.enable")
            await page.goto("/login?next=/tutor")
            await page.fill("#email", tutor)
            await page.fill("#password", PASSWORD)
            await page.click("form[action='/login'] button[type=submit]")
            await page.wait_for_url("**/tutor")
            await page.wait_for_function("() => navigator.serviceWorker.controller !== null")
            for i in range(args.runs):
                await page.goto(f"/enrolments/{enrolment}/observe")
                await page.wait_for_selector("form[data-capture][data-enhanced=true]",
                                             state="attached")
                await cdp.send("Network.emulateNetworkConditions", {
                    "offline": False, "latency": args.latency,
                    "downloadThroughput": args.downlink, "uploadThroughput": args.uplink})
                code = await page.evaluate(
                    "() => document.querySelector('[data-criterion]').dataset.criterion")
                await page.evaluate("""(code) => {
                    document.querySelector(`input[name='rating-${code}'][value='met']`)
                      .checked = true;
                }""", code)
                chosen = photos[2 * i:2 * i + 2]
                await page.set_input_files("#photos", [str(x) for x in chosen])
                await page.wait_for_function(
                    "n => document.querySelectorAll('[data-thumbs] img[src^=\"blob:\"]')"
                    ".length === n", arg=len(chosen), timeout=120_000)
                # Let the downscales finish (the save waits for them otherwise).
                await asyncio.sleep(2)
                before = proxy.stats.upstream
                t0 = time.monotonic()
                await page.click("[data-save]")
                # Saved to the outbox (at 3G nothing can be sent before this shows) …
                await page.wait_for_function("""() => {
                    const el = document.querySelector('[data-pending]');
                    return el && el.dataset.count !== '0';
                }""", timeout=30_000)
                # … then sent.
                await page.wait_for_function("""() => {
                    const el = document.querySelector('[data-pending]');
                    return el && el.dataset.count === '0'
                      && el.innerText.includes('Tout est envoyé');
                }""", timeout=args.timeout * 1000)
                seconds = time.monotonic() - t0
                sizes = await page.evaluate("""() => [...document.querySelectorAll(
                    '[data-thumbs] img')].length""")
                results.append({"seconds": seconds, "sent": proxy.stats.upstream - before,
                                "thumbs_left": sizes})
                print(f"  run {i + 1}: {seconds:.1f} s, {proxy.stats.upstream - before:,} B "
                      f"sent after the tap", flush=True)
                await cdp.send("Network.emulateNetworkConditions", {
                    "offline": False, "latency": 0, "downloadThroughput": -1,
                    "uploadThroughput": -1})
        finally:
            await browser.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--uplink", type=int, default=50_000, help="bytes/s")
    parser.add_argument("--downlink", type=int, default=50_000, help="bytes/s")
    parser.add_argument("--latency", type=int, default=400, help="ms")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per run")
    parser.add_argument("--tree", type=Path, default=None,
                        help="another checkout to serve (the 'before' figure)")
    args = parser.parse_args()
    header("three_g: one observation with two photos over slow 3G, tap to « Tout est envoyé »")
    print(f"  tree: {args.tree or 'this checkout'}; uplink {args.uplink:,} B/s, downlink "
          f"{args.downlink:,} B/s, latency {args.latency} ms")
    data = Path(tempfile.mkdtemp(prefix="carnet-bench-3g-"))
    try:
        extra = {"PYTHONPATH": str(args.tree.resolve())} if args.tree else {}
        env = carnet_env(f"sqlite://{data}/carnet.sqlite3", data, **extra)
        rep = carnet_seed(env, 1, 0)
        folder = data / "camera"
        folder.mkdir()
        photos = [phone_photo(folder / f"IMG_{i:04d}.jpg", 100 + i) for i in range(2 * args.runs)]
        # uvicorn puts its --app-dir (default: the working directory) first on sys.path.
        extra_args = ("--app-dir", str(args.tree.resolve())) if args.tree else ()
        with uvicorn_server(env, extra_args=extra_args) as (server_base, _):
            port = int(server_base.rsplit(":", 1)[1])
            with CountingProxy(port) as proxy:
                results = asyncio.run(run(args, f"http://127.0.0.1:{proxy.port}",
                                          rep["first_enrolment"], rep["tutor"], photos, proxy))
        seconds = [r["seconds"] for r in results]
        median = statistics.median(seconds)
        print(f"\n  tap → « Tout est envoyé »: median {median:.1f} s (runs: "
              f"{', '.join(f'{s:.1f}' for s in seconds)}); bytes sent after the tap: median "
              f"{statistics.median(r['sent'] for r in results):,.0f} B")
        print(f"  load average at the end: {loadavg()}")
        verdict(median <= BAR_SECONDS, f"one observation with two photos synced in ≤ "
                f"{BAR_SECONDS:.0f} s at the 3G profile (median of {len(seconds)})")
        return 0
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
