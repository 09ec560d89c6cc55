"""Bytes per photo and their quality: what the phone sends, today and as shipped.

Bar (issue "faster where the tutor waits", 1): median bytes per photo ≤ ⅓ of today's
on the bench's photo set, and SSIM ≥ 0.97 for every photo against the full-resolution
original resized to the same size.

- The encoder is the browser's own: Chromium (Debian's, Playwright) runs the real
  `pwa/js/resize-worker.js` (served from the checkout) on each photo with an explicit
  setting, and the shipped choice through `pwa/js/images.js` `downscale()` (which
  also checks that the canvas returned the type it asked for).
- "today" = the release before this change: 2000 px long side, JPEG quality 0.85.
- SSIM: scikit-image's `structural_similarity` between the phone's output decoded by
  Pillow and the original decoded by Pillow (EXIF orientation applied), resized to the
  output's size with Pillow's LANCZOS: on the luma as Wang et al. define it (Gaussian
  window σ=1.5; the bar is judged on this one), and on R, G, B with scikit-image's
  defaults (reported beside it). The reference is resampled by another filter than
  the browser's: SSIM counts that difference too; the PNG row (the browser's own
  resize, losslessly encoded) shows how much of the gap that alone is.
- Photo sets: (a) sync_bytes.py's generated 12 MP photos (the bench's photo set, the
  one the 3G and flapping figures come from); (b) ingest.py's detailed 12 MP photo
  (noise σ≈7, fine text); (c) real camera photos that scikit-image ships in
  `skimage.data` (astronaut, coffee, chelsea, rocket, the stereo pair's left motorcycle): real
  optics and sensor noise, but all under 1600 px, so only the encoding is measured
  there, not the downscale. No package ships full-resolution camera photos (the
  usual sources, e.g. scipy/imageio datasets, download them at run time).

    python bench/photo_quality.py [--generated 9] [--grid]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import functools
import http.server
import io
import shutil
import statistics
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image, ImageOps  # noqa: E402

from bench._common import ROOT, header, loadavg, verdict  # noqa: E402
from bench.ingest import phone_photo as detailed_photo  # noqa: E402
from bench.sync_bytes import CHROMIUM, LAUNCH_ARGS  # noqa: E402
from bench.sync_bytes import phone_photo as generated_photo  # noqa: E402

TODAY = {"name": "today: 2000 px JPEG q0.85", "maxSide": 2000,
         "encodings": [["image/jpeg", 0.85]]}
GRID = [{"name": f"{side} px {t.split('/')[1].upper()} q{q}", "maxSide": side,
         "encodings": [[t, q]]}
        for side, t, qs in ((1600, "image/webp", (0.5, 0.6, 0.7, 0.8)),
                            (1440, "image/webp", (0.6, 0.7)),
                            (1600, "image/jpeg", (0.7, 0.8)))
        for q in qs]
LOSSLESS = {"name": "1600 px PNG (the browser's resize, no encoding loss)",
            "maxSide": 1600, "encodings": [["image/png", 1]]}
REAL = ("astronaut", "coffee", "chelsea", "rocket", "stereo_motorcycle")

PAGE = """<!doctype html><meta charset=utf-8><title>bench</title>
<script type=module>
window.encodeWith = async (url, maxSide, encodings) => {
  const blob = await (await fetch(url)).blob();
  const worker = new Worker('/js/resize-worker.js');
  const out = await new Promise((resolve, reject) => {
    worker.onmessage = (e) => e.data.error ? reject(new Error(e.data.error)) : resolve(e.data);
    worker.postMessage({id: 1, blob, maxSide, encodings});
  });
  worker.terminate();
  return pack(out);
};
window.shipped = async (url) => {
  const images = await import('/js/images.js');
  const blob = await (await fetch(url)).blob();
  return pack(await images.downscale(new File([blob], 'p.jpg', {type: blob.type})));
};
async function pack(out) {
  const bytes = new Uint8Array(await out.blob.arrayBuffer());
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return {type: out.blob.type, width: out.width, height: out.height, data: btoa(text)};
}
window.ready = true;
</script>"""


def ssim(original: bytes, encoded: bytes) -> tuple[float, float]:
    """(SSIM of the luma, mean SSIM of R, G, B). The luma one is the measure of Wang et
    al. 2004 as scikit-image documents it (BT.601 luma, Gaussian window σ=1.5, population
    covariance); the RGB one applies scikit-image's defaults (7×7 window) to each colour
    channel, so JPEG's halved chroma (4:2:0) weighs on it."""
    import numpy as np
    from skimage.metrics import structural_similarity

    out = Image.open(io.BytesIO(encoded)).convert("RGB")
    ref = ImageOps.exif_transpose(Image.open(io.BytesIO(original))).convert("RGB")
    if ref.size != out.size:
        ref = ref.resize(out.size, Image.Resampling.LANCZOS)
    luma = structural_similarity(
        np.asarray(ref.convert("L"), dtype=np.float64),
        np.asarray(out.convert("L"), dtype=np.float64), data_range=255,
        gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    rgb = structural_similarity(np.asarray(ref), np.asarray(out), channel_axis=2,
                                data_range=255)
    return float(luma), float(rgb)


@contextlib.contextmanager
def static_site(folder: Path):
    handler = functools.partial(QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".js": "text/javascript"}

    def log_message(self, *args) -> None:
        pass


async def encode_all(base: str, photos: list[str], configs: list[dict]) -> dict:
    from playwright.async_api import async_playwright

    results: dict = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=LAUNCH_ARGS)
        try:
            page = await browser.new_page()
            page.set_default_timeout(120_000)
            await page.goto(f"{base}/index.html")
            await page.wait_for_function("() => window.ready === true")
            for name in photos:
                for config in configs:
                    out = await page.evaluate(
                        "([u, m, e]) => window.encodeWith(u, m, e)",
                        [f"/photos/{name}", config["maxSide"], config["encodings"]])
                    results[(name, config["name"])] = out
                results[(name, "shipped")] = await page.evaluate(
                    "(u) => window.shipped(u)", f"/photos/{name}")
        finally:
            await browser.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generated", type=int, default=9, help="photos of set (a)")
    parser.add_argument("--grid", action="store_true", help="also every candidate setting")
    args = parser.parse_args()
    header("photo_quality: bytes per photo and SSIM, the phone's encoder in Chromium")
    site = Path(tempfile.mkdtemp(prefix="carnet-bench-photos-"))
    try:
        (site / "index.html").write_text(PAGE)
        shutil.copytree(ROOT / "pwa" / "js", site / "js")
        folder = site / "photos"
        folder.mkdir()
        sets: dict[str, list[str]] = {"a. generated 12 MP (sync_bytes)": [],
                                      "b. detailed 12 MP (ingest)": [], "c. real, skimage.data": []}
        for i in range(args.generated):
            generated_photo(folder / f"gen-{i}.jpg", i)
            sets["a. generated 12 MP (sync_bytes)"].append(f"gen-{i}.jpg")
        for seed in (7, 8, 9):
            (folder / f"detailed-{seed}.jpg").write_bytes(detailed_photo((4000, 3000), seed))
            sets["b. detailed 12 MP (ingest)"].append(f"detailed-{seed}.jpg")
        try:
            from skimage import data as skdata

            for name in REAL:
                array = getattr(skdata, name)()
                if isinstance(array, tuple):  # stereo_motorcycle: (left, right, disparity)
                    array = array[0]
                Image.fromarray(array).convert("RGB").save(folder / f"{name}.png")
                sets["c. real, skimage.data"].append(f"{name}.png")
        except ImportError:
            print("  scikit-image missing (pip install -e '.[bench]'): no real photos, no SSIM")
            return 2
        configs = [TODAY, LOSSLESS, *(GRID if args.grid else [])]
        names = [n for names in sets.values() for n in names]
        with static_site(site) as base:
            results = asyncio.run(encode_all(base, names, configs))
        originals = {n: (folder / n).read_bytes() for n in names}
        config_names = [c["name"] for c in configs] + ["shipped"]
        measured = {}
        for (name, config), out in results.items():
            data = base64.b64decode(out["data"])
            luma, rgb = ssim(originals[name], data)
            measured[(name, config)] = (len(data), luma, out["type"], out["width"],
                                        out["height"], rgb)
        ok = True
        for set_name, members in sets.items():
            print(f"\n  {set_name}: {len(members)} photos")
            print(f"    {'photo':<22} {'original':>10}  {'today B':>9} {'SSIM Y':>6} {'RGB':>6}  "
                  f"{'shipped B':>9} {'SSIM Y':>6} {'RGB':>6} {'type':<10} {'size':>9}  "
                  f"{'ratio':>5}")
            for name in members:
                t, s = measured[(name, TODAY["name"])], measured[(name, "shipped")]
                print(f"    {name:<22} {len(originals[name]):>10,}  {t[0]:>9,} {t[1]:>6.4f} "
                      f"{t[5]:>6.4f}  {s[0]:>9,} {s[1]:>6.4f} {s[5]:>6.4f} {s[2]:<10} "
                      f"{s[3]:>4}×{s[4]:<4}  {s[0] / t[0]:>5.2f}")
            for config in config_names:
                sizes = [measured[(n, config)][0] for n in members]
                quality = [measured[(n, config)][1] for n in members]
                rgb = [measured[(n, config)][5] for n in members]
                print(f"    {config:<52} median {statistics.median(sizes):>9,.0f} B  SSIM Y "
                      f"min {min(quality):.4f} median {statistics.median(quality):.4f}; RGB "
                      f"min {min(rgb):.4f}")
            today = statistics.median(measured[(n, TODAY['name'])][0] for n in members)
            shipped = statistics.median(measured[(n, 'shipped')][0] for n in members)
            worst = min(measured[(n, "shipped")][1] for n in members)
            ratio = shipped / today
            if set_name.startswith("a."):
                ok = ratio <= 1 / 3 and worst >= 0.97
            print(f"    shipped / today (medians): {ratio:.3f}; worst SSIM {worst:.4f}")
        print(f"\n  load average at the end: {loadavg()}")
        verdict(ok, "median bytes per photo ≤ ⅓ of today's on set (a), and luma SSIM ≥ 0.97 "
                "on every photo of it (sets b and c are reported, not judged)")
        return 0
    finally:
        shutil.rmtree(site, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
