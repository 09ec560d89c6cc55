"""Going live, end to end, in CI: Debian's caddy with `tls internal` in front of
`carnet serve --workers 2` on PostgreSQL with photos in SeaweedFS. The first administrator
opens the setup link printed by `carnet init` over HTTPS and is logged in; a tutor logs in,
captures an observation with photos offline, and it syncs through the proxy. Chromium
trusts Caddy's local CA for this launch (its public keys, --ignore-certificate-errors-spki-
list), nothing else. Loopback only, bounded in time."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import shutil
import ssl
import subprocess
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.browser.conftest import (
    LAUNCH_ARGS,
    PHONE,
    TIMEOUT_MS,
    controlled,
    fill_observation,
    save,
    wait_pending,
)
from tests.conftest import need, scratch_postgres_database
from tests.live import LiveServer, init_branch, live_env, seed_enrolment
from tests.test_packaging import free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.browser]
STRONG = "mot de passe du premier administrateur"
CADDYFILE = """{{
    admin off
    skip_install_trust
    auto_https disable_redirects
    http_port {http_port}
    https_port {https_port}
    storage file_system {{
        root {storage}
    }}
}}
https://127.0.0.1:{https_port} {{
    bind 127.0.0.1
    tls internal
    reverse_proxy 127.0.0.1:{upstream}
}}
"""


@contextlib.contextmanager
def running_caddy(folder: Path, upstream: int, https_port: int):
    binary = shutil.which("caddy")
    need(binary is not None, "Caddy (Debian's caddy package)")
    storage = folder / "caddy-data"
    config = folder / "Caddyfile"
    config.write_text(CADDYFILE.format(http_port=free_port(), https_port=https_port,
                                       storage=storage, upstream=upstream))
    env = {**os.environ, "HOME": str(folder), "XDG_DATA_HOME": str(folder / "xdg-data"),
           "XDG_CONFIG_HOME": str(folder / "xdg-config")}
    log = (folder / "caddy.log").open("wb")
    process = subprocess.Popen([binary, "run", "--config", str(config), "--adapter",
                                "caddyfile"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"https://127.0.0.1:{https_port}"
    root = storage / "pki" / "authorities" / "local" / "root.crt"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if root.exists() and httpx.get(f"{url}/health", timeout=2, verify=(
                        ssl.create_default_context(cafile=str(root)))).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("caddy did not start: " + (folder / "caddy.log").read_text())
            time.sleep(0.2)
        yield url, storage / "pki" / "authorities" / "local"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def spki_hashes(authority: Path) -> str:
    """base64(sha256(SubjectPublicKeyInfo)) of Caddy's local root and intermediate."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    hashes = []
    for name in ("root.crt", "intermediate.crt"):
        cert = x509.load_pem_x509_certificate((authority / name).read_bytes())
        spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        hashes.append(base64.b64encode(hashlib.sha256(spki).digest()).decode())
    return ",".join(hashes)


async def test_first_admin_then_offline_capture_over_https_behind_caddy(
        tmp_path, seaweedfs, chromium, big_photos):
    from playwright.async_api import async_playwright

    async with scratch_postgres_database("carnet_caddy") as db_url:
        store_url = seaweedfs.url()
        env = live_env(tmp_path / "data", db_url, seaweedfs.env(store_url))
        https_port = free_port()
        env["CARNET_PUBLIC_URL"] = f"https://127.0.0.1:{https_port}"
        setup_path = init_branch(env, "premiere@cpne.test")
        tutor, password, enrolment = seed_enrolment(env)
        server = LiveServer(env, ("--workers", "2")).start()
        try:
            with running_caddy(tmp_path, server.port, https_port) as (url, authority):
                async with async_playwright() as p:
                    browser = await p.chromium.launch(
                        executable_path=str(chromium), headless=True,
                        args=[*LAUNCH_ARGS,
                              f"--ignore-certificate-errors-spki-list={spki_hashes(authority)}"])
                    try:
                        await first_admin(browser, url, setup_path)
                        situation = await offline_capture(browser, url, tutor, password,
                                                          enrolment, big_photos[:2])
                    finally:
                        await browser.close()
        finally:
            server.stop()
        await check_synced(db_url, situation, seaweedfs.store(store_url.split("/", 3)[3]))


async def new_context(browser, url: str):
    ctx = await browser.new_context(base_url=url, viewport=PHONE, locale="fr-FR",
                                    timezone_id="Europe/Paris")
    ctx.set_default_timeout(TIMEOUT_MS)
    ctx.on("console", lambda m: print(f"console.{m.type}: {m.text}"))
    return ctx


async def first_admin(browser, url: str, setup_path: str) -> None:
    ctx = await new_context(browser, url)
    try:
        page = await ctx.new_page()
        await page.goto(setup_path)
        assert await page.evaluate("() => window.isSecureContext && location.protocol")\
            == "https:"
        await page.fill("#password", STRONG)
        await page.fill("#password_again", STRONG)
        await page.click("form:has(input[name=action][value=create]) button[type=submit]")
        await page.wait_for_url("**/admin**")
        cookies = await ctx.cookies()
        assert [c["name"] for c in cookies] == ["__Host-carnet"] and cookies[0]["secure"]
        assert "Administration" in await page.inner_text("main")
        again = await page.goto(setup_path)  # single use
        assert again.status == 410
    finally:
        await ctx.close()


async def offline_capture(browser, url: str, tutor: str, password: str, enrolment: int,
                          photos: list[Path]) -> str:
    ctx = await new_context(browser, url)
    try:
        page = await ctx.new_page()
        await page.goto("/login?next=/tutor")
        await page.fill("#email", tutor)
        await page.fill("#password", password)
        await page.click("form[action='/login'] button[type=submit]")
        await page.wait_for_url("**/tutor")
        await controlled(page)  # the service worker: HTTPS (a secure context) required
        await page.goto(f"/enrolments/{enrolment}/observe")
        await page.wait_for_selector("form[data-capture][data-enhanced=true]", state="attached")
        situation = f"Pose derrière Caddy {uuid.uuid4().hex[:8]}"
        await ctx.set_offline(True)
        await fill_observation(page, situation, ratings={"C1.1.a": "met"}, photos=photos)
        await save(page)
        await wait_pending(page, 1 + len(photos))
        await ctx.set_offline(False)
        await wait_pending(page, 0, timeout_ms=60_000)
        return situation
    finally:
        await ctx.close()


async def check_synced(db_url: str, situation: str, store) -> None:
    db = await asyncpg.connect(db_url.replace("postgres://", "postgresql://", 1))
    try:
        rows = await db.fetch("SELECT id FROM observation WHERE situation = $1", situation)
        photos = await db.fetch("SELECT sha256, thumb_sha256 FROM photo")
    finally:
        await db.close()
    assert len(rows) == 1 and len(photos) == 2  # once, with both photos
    for row in photos:
        assert store.verify(row["sha256"]) and store.verify(row["thumb_sha256"])
