"""Real Chromium (Debian's, at /usr/bin/chromium) driven by Playwright against the
real server: a uvicorn subprocess on a free loopback port with its own SQLite
database, seeded by tests/browser/seed.py. Tests read that database read-only."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from tests.conftest import need
from tests.test_packaging import free_port, wait_for

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PASSWORD = "browser-test-password"
TUTOR = "tuteur@demo.test"
SECOND_TUTOR = "tuteur2@demo.test"  # tutors the same enrolment (tests/browser/seed.py)
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
PHONE = {"width": 360, "height": 740}
TIMEOUT_MS = 20_000  # default bound for every Playwright wait


@dataclass
class Server:
    url: str
    data_dir: Path
    enrolment_id: int

    def rows(self, sql: str, *params) -> list[tuple]:
        """Read the server's database without writing to it."""
        db = sqlite3.connect(f"file:{self.data_dir / 'carnet.sqlite3'}?mode=ro", uri=True)
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()

    def photo_file(self, sha: str) -> Path:
        return self.data_dir / "photos" / sha[:2] / sha[2:4] / sha


def server_env(data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "CARNET_DATA_DIR": str(data_dir), "CARNET_DEMO_PASSWORD": PASSWORD,
           "CARNET_SECRET_KEY": "browser-tests", "CARNET_LOG_LEVEL": "warning"}
    env.pop("CARNET_DATABASE_URL", None)
    return env


def seed(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "tests.browser.seed"], cwd=ROOT,
                   env=server_env(data_dir), check=True, timeout=60)


@contextlib.contextmanager
def running_server(data_dir: Path, *, port: int | None = None, tree: Path = ROOT):
    """`carnet serve` from the checkout at `tree` (the browser tests' release)."""
    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "serve", "--host", "127.0.0.1", "--port",
         str(port), "--no-migrate"], cwd=tree, env=server_env(data_dir),
        stdout=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/health", seconds=60)
        srv = Server(url=url, data_dir=data_dir, enrolment_id=0)
        srv.enrolment_id = srv.rows("SELECT id FROM enrolment ORDER BY id")[0][0]
        yield srv
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Server:
    data_dir = tmp_path_factory.mktemp("browser-data")
    seed(data_dir)
    with running_server(data_dir) as srv:
        yield srv


@pytest.fixture
def chromium() -> Path:
    need(CHROMIUM.exists(), "Chromium")  # a failure in CI, a skip elsewhere
    return CHROMIUM


@pytest.fixture
async def browser(chromium) -> AsyncIterator:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        instance = await p.chromium.launch(executable_path=str(chromium), headless=True,
                                           args=LAUNCH_ARGS)
        try:
            yield instance
        finally:
            await instance.close()


@pytest.fixture
async def context(browser, server):
    ctx = await browser.new_context(base_url=server.url, viewport=PHONE, locale="fr-FR",
                                    timezone_id="Europe/Paris")
    ctx.set_default_timeout(TIMEOUT_MS)
    # Shown by pytest when a test fails: what the pages and the worker said.
    ctx.on("console", lambda m: print(f"console.{m.type}: {m.text}"))
    ctx.on("weberror", lambda e: print(f"page error: {e.error}"))
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest.fixture(scope="session")
def big_photos(tmp_path_factory) -> list[Path]:
    """Three 4000×3000 JPEGs, as a phone takes them: distinct content, EXIF with
    GPS. Smooth noise keeps them ~1–2 MB so the tests stay quick."""
    folder = tmp_path_factory.mktemp("photos")
    return [write_photo(folder / f"chantier-{i}.jpg", (4000, 3000), i) for i in range(3)]


def write_photo(path: Path, size: tuple[int, int], seed: int) -> Path:
    small = (size[0] // 8, size[1] // 8)
    channels = [Image.effect_noise(small, 30 + 10 * c).point(lambda v, c=c: (v + 60 * c) % 256)
                for c in range(3)]
    image = Image.merge("RGB", channels).resize(size, Image.Resampling.BICUBIC)
    ImageDraw.Draw(image).rectangle((0, 0, size[0] // 10, size[1] // 10),
                                    fill=(255, 40 * seed % 256, 0))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 7.0)})
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=85, exif=exif)
    path.write_bytes(buf.getvalue())
    return path


@pytest.fixture(scope="session")
def small_photos(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("small-photos")
    return [write_photo(folder / f"p{i}.jpg", (1200, 900), i) for i in range(10)]


async def log_in(page, next_path: str = "/tutor", email: str = TUTOR) -> None:
    await page.goto(f"/login?next={next_path}")
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_url(f"**{next_path}")


async def controlled(page) -> None:
    await page.wait_for_function("() => navigator.serviceWorker.controller !== null",
                                 timeout=TIMEOUT_MS)


async def open_capture(page, server: Server) -> None:
    """The capture form, served and kept by the worker, enhanced by capture.js."""
    await log_in(page)
    await controlled(page)
    await page.goto(f"/enrolments/{server.enrolment_id}/observe")
    await page.wait_for_selector("form[data-capture][data-enhanced=true]", state="attached")


async def pending(page) -> int:
    return int(await page.get_attribute("[data-pending]", "data-count") or -1)


PENDING_NOW = """async () => {
    const outbox = await import('/static/js/outbox.js');
    const shown = document.querySelector('[data-pending]')?.dataset.count;
    return [(await outbox.pendingCount()).total, shown === undefined ? -1 : Number(shown)];
}"""


async def wait_pending(page, count: int, timeout_ms: int = TIMEOUT_MS) -> None:
    """Until both the outbox and what the page shows hold `count` items."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_ms / 1000
    while True:
        try:
            now = await page.evaluate(PENDING_NOW)
        except Exception:  # the page is navigating: look again
            now = None
        if now == [count, count]:
            return
        if loop.time() > deadline:
            raise AssertionError(f"pending (outbox, shown) = {now}, expected {count}")
        await asyncio.sleep(0.1)


async def open_more(page) -> None:
    """The optional fields (date, situation, place, comment) are folded."""
    more = page.locator("form[data-capture] details.more")
    if await more.get_attribute("open") is None:
        await more.locator("summary").click()


async def fill_observation(page, situation: str, *, ratings: dict[str, str],
                           photos: list[Path] = ()) -> None:
    await open_more(page)
    await page.fill("#situation", situation)
    await page.fill("#place", "Atelier")
    for code, value in ratings.items():
        competency = page.locator("details.competency",
                                  has=page.locator(f"[data-criterion='{code}']"))
        if await competency.get_attribute("open") is None:
            await competency.locator("summary").click()
        await page.check(f"input[name='rating-{code}'][value='{value}']", force=True)
    if photos:
        await page.set_input_files("#photos", [str(p) for p in photos])
        await page.wait_for_function(
            "n => document.querySelectorAll('[data-thumbs] img[src^=\"blob:\"]').length === n",
            arg=len(photos), timeout=60_000)


async def save(page) -> None:
    """One tap; saved when the form is cleared (capture.js does it after the
    outbox transaction committed)."""
    await page.click("[data-save]")
    await page.wait_for_function(
        "() => document.querySelector('#situation').value === ''"
        " || !document.querySelector('form[data-capture]').previousElementSibling.hidden")
    assert await page.input_value("#situation") == "", await page.inner_text("main")
