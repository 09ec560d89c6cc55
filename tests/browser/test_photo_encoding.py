"""What the phone sends: 1600 px, WebP where the canvas really writes WebP, JPEG where it
answers another type (Safari before 17 returns a PNG for a type it cannot write)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import open_capture

pytestmark = pytest.mark.browser

OUTBOX_TYPES = """async () => {
    const outbox = await import('/static/js/outbox.js');
    return Promise.all((await outbox.listPhotos()).map(async (p) => {
        const bitmap = await createImageBitmap(p.blob);
        return [p.blob.type, p.type, Math.max(bitmap.width, bitmap.height)];
    }));
}"""

# No worker (iOS < 16.4), and a canvas that writes PNG when asked for WebP.
NO_WEBP = """
    delete self.OffscreenCanvas;
    const toBlob = HTMLCanvasElement.prototype.toBlob;
    HTMLCanvasElement.prototype.toBlob = function (callback, type, quality) {
        return toBlob.call(this, callback, type === 'image/webp' ? 'image/png' : type, quality);
    };
"""


async def downscaled(page, photo) -> list:
    await page.evaluate("""async (bytes) => {
        const images = await import('/static/js/images.js');
        const file = new File([new Uint8Array(bytes)], 'p.jpg', {type: 'image/jpeg'});
        const out = await images.downscale(file);
        window.__out = [out.blob.type, Math.max(out.width, out.height)];
    }""", list(photo.read_bytes()))
    return await page.evaluate("window.__out")


async def test_the_phone_sends_webp_of_at_most_1600_px(context, server, big_photos):
    page = await context.new_page()
    await open_capture(page, server)
    assert await downscaled(page, big_photos[0]) == ["image/webp", 1600]


async def test_a_canvas_without_webp_falls_back_to_jpeg(context, server, small_photos):
    page = await context.new_page()
    await page.add_init_script(NO_WEBP)
    await open_capture(page, server)
    assert await downscaled(page, small_photos[0]) == ["image/jpeg", 1200]
    assert await downscaled(page, small_photos[1]) == ["image/jpeg", 1200]  # remembered
