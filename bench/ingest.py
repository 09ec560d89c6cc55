"""Photo ingest vs Pillow's floor (bar: ≤ 1.3×, 12 MP JPEG).

Server path (no HTTP): sha256 of the received bytes + `ingest_image` (validate,
orient, strip, re-encode ≤ 2560 px q85, thumbnail 320 px) + the two
`LocalPhotoStore.put` (durable write: temp file, fsync, rename, fsync dirs),
i.e. what `backend.domain.evidence.put_photo` does before its DB transaction.

Floor: Pillow's fastest plain path for the same outputs — open, aspect-correct
draft, load, resize to the same size (LANCZOS, same reducing_gap), JPEG encode at
the same quality, thumbnail made from it, encode. No hashing, no writing.
The two are interleaved (ABBA) and the median of N runs of each is compared.

    python bench/ingest.py [--runs N]
"""

from __future__ import annotations

import argparse
import gc
import random
import shutil
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image, ImageChops, ImageDraw, ImageFilter  # noqa: E402

from backend.storage import LocalPhotoStore, ingest_image, sha256_hex  # noqa: E402
from bench._common import header, median, verdict  # noqa: E402

BAR = 1.3
MAX_SIDE, THUMB_SIDE, QUALITY = 2560, 320, 85  # ingest_image's defaults


def phone_photo(size: tuple[int, int], seed: int = 7) -> bytes:
    """A stand-in for a phone photo: gradients, shapes and edges (detail), sensor
    noise, a little blur (optics), JPEG q90 4:2:0 with EXIF (date, orientation 1)."""
    rng = random.Random(seed)
    w, h = size
    base = Image.merge("RGB", [Image.linear_gradient("L").resize(size),
                               Image.radial_gradient("L").resize(size),
                               Image.linear_gradient("L").rotate(90).resize(size)])
    draw = ImageDraw.Draw(base)
    for _ in range(400):  # objects and edges: a workshop bench, tools, parts
        x, y = rng.randrange(w), rng.randrange(h)
        dx, dy = rng.randrange(20, w // 6), rng.randrange(20, h // 6)
        colour = tuple(rng.randrange(256) for _ in range(3))
        shape = rng.choice(("rect", "ellipse", "line"))
        if shape == "rect":
            draw.rectangle((x, y, x + dx, y + dy), fill=colour)
        elif shape == "ellipse":
            draw.ellipse((x, y, x + dx, y + dy), outline=colour, width=rng.randrange(2, 12))
        else:
            draw.line((x, y, x + dx, y - dy), fill=colour, width=rng.randrange(1, 8))
    for _ in range(200):  # fine text-like detail (labels, gauges)
        x, y = rng.randrange(w - 200), rng.randrange(h - 20)
        draw.text((x, y), f"REF-{rng.randrange(10**6):06d} Ø{rng.randrange(100)}",
                  fill=tuple(rng.randrange(256) for _ in range(3)))
    base = base.filter(ImageFilter.GaussianBlur(0.8))
    # Sensor noise (σ ≈ 7 levels, as a phone leaves it after its own denoising).
    noise = Image.merge("RGB", [Image.effect_noise(size, s) for s in (7, 5.5, 8.5)])
    photo = ImageChops.add(base, noise, 1.0, -128)
    exif = Image.Exif()
    exif[0x0112] = 1
    exif[0x010F], exif[0x0110] = "BenchPhone", "BP-12"
    exif.get_ifd(0x8769)[0x9003] = "2026:03:14 09:26:53"
    buf = BytesIO()
    photo.save(buf, "JPEG", quality=90, subsampling="4:2:0", exif=exif)
    return buf.getvalue()


def fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    w, h = size
    long = max(w, h)
    if long <= side:
        return size
    return max(1, round(w * side / long)), max(1, round(h * side / long))


def pillow_floor(data: bytes) -> tuple[bytes, bytes]:
    """Pillow's own best path to the same two outputs."""
    im = Image.open(BytesIO(data))
    target = fit(im.size, MAX_SIDE)
    im.draft("RGB", target)  # aspect-correct box: scales only when both sides stay ≥ it
    im.load()
    if im.size != target:
        im = im.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    out = BytesIO()
    im.save(out, "JPEG", quality=QUALITY)
    thumb = im.resize(fit(im.size, THUMB_SIDE), Image.Resampling.LANCZOS, reducing_gap=2.0)
    tout = BytesIO()
    thumb.save(tout, "JPEG", quality=QUALITY)
    return out.getvalue(), tout.getvalue()


def server_path(data: bytes, store: LocalPhotoStore) -> dict[str, float]:
    """What put_photo does before its transaction; returns the stage times (s)."""
    t0 = time.perf_counter()
    sha256_hex(data)  # received_sha256 (and the Content-Digest check)
    t1 = time.perf_counter()
    ing = ingest_image(data)
    t2 = time.perf_counter()
    store.put(ing.content)
    store.put(ing.thumb)
    t3 = time.perf_counter()
    return {"total": t3 - t0, "hash_in": t1 - t0, "ingest": t2 - t1, "puts": t3 - t2,
            "sha": ing.sha256, "thumb_sha": ing.thumb_sha256}


def run_case(name: str, data: bytes, runs: int, root: Path) -> dict:
    store = LocalPhotoStore(root / name)
    # Same outputs? Sizes and byte sizes must match the floor's.
    ing = ingest_image(data)
    main, thumb = pillow_floor(data)
    fm, ft = Image.open(BytesIO(main)), Image.open(BytesIO(thumb))
    same = ((ing.width, ing.height) == fm.size and (ing.thumb_width, ing.thumb_height) == ft.size)
    server, floor, stages = [], [], {"hash_in": [], "ingest": [], "puts": []}
    for _ in range(2):  # warm-up
        server_path(data, store)
        pillow_floor(data)
    for i in range(runs):
        order = ("s", "f") if i % 2 == 0 else ("f", "s")  # ABBA: no order bias
        for which in order:
            gc.collect()
            if which == "s":
                for sha in list(store.iter_hashes()):  # a real first write each time
                    store.delete(sha)
                r = server_path(data, store)
                server.append(r["total"])
                for k in stages:
                    stages[k].append(r[k])
            else:
                t = time.perf_counter()
                pillow_floor(data)
                floor.append(time.perf_counter() - t)
    s, f = median(server), median(floor)
    pairs = median([a / b for a, b in zip(server, floor, strict=True)])
    im = Image.open(BytesIO(data))
    return {"name": name, "input": f"{im.size[0]}×{im.size[1]}", "bytes": len(data),
            "out": f"{ing.width}×{ing.height} ({ing.size:,} B) + thumb "
                   f"{ing.thumb_width}×{ing.thumb_height} ({ing.thumb_size:,} B)",
            "floor_out": f"{len(main):,} B + {len(thumb):,} B", "same_sizes": same,
            "server_ms": s * 1e3, "floor_ms": f * 1e3, "ratio": s / f, "pair_ratio": pairs,
            "cpu_ratio": median(stages["ingest"]) / f, "runs": runs,
            "best_ratio": min(server) / min(floor),
            **{f"{k}_ms": median(v) * 1e3 for k, v in stages.items()}}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    header("ingest: server photo ingest vs Pillow's floor")
    root = Path(tempfile.mkdtemp(prefix="carnet-bench-ingest-"))
    try:
        cases = [("12MP", phone_photo((4000, 3000))), ("2MP", phone_photo((2000, 1500)))]
        results = [run_case(n, d, args.runs if n == "12MP" else args.runs * 2, root)
                   for n, d in cases]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for r in results:
        print(f"\n[{r['name']}] input {r['input']} JPEG q90, {r['bytes']:,} B; "
              f"outputs {r['out']}; floor outputs {r['floor_out']}; "
              f"same dimensions: {r['same_sizes']}; median of {r['runs']} interleaved runs")
        print(f"  server path  {r['server_ms']:7.1f} ms  = sha256(in) {r['hash_in_ms']:.1f} + "
              f"ingest_image {r['ingest_ms']:.1f} + 2 durable puts (hash+fsync) {r['puts_ms']:.1f}")
        print(f"  Pillow floor {r['floor_ms']:7.1f} ms")
        print(f"  ratio {r['ratio']:.2f} (median of per-pair ratios {r['pair_ratio']:.2f}, "
              f"best-of-{r['runs']} ratio {r['best_ratio']:.2f}); "
              f"ingest_image alone / floor {r['cpu_ratio']:.2f}")
    main12 = results[0]
    print()
    # The bar is judged on the worse of the two robust estimators (noisy shared machine).
    worst = max(main12["ratio"], main12["pair_ratio"])
    verdict(worst <= BAR, f"12 MP ingest {worst:.2f}× Pillow's floor (worse of ratio of "
                          f"medians and median pair ratio; bar ≤ {BAR}); 2 MP "
                          f"{max(results[1]['ratio'], results[1]['pair_ratio']):.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
