"""Draw the app icons with Pillow (no font needed): `python pwa/icons/make_icons.py`.

A white notebook page with a green check mark on the brand colour. The maskable
variants keep the drawing inside the central 80 % safe zone, because launchers
crop them to a circle or a squircle.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

BRAND = (11, 79, 108)  # --brand in css/app.css
CHECK = (17, 99, 44)  # --ok
HERE = Path(__file__).resolve().parent
# (file, side in px, scale of the drawing: 1.0 fills the icon, 0.8 is the safe zone)
ICONS = [("icon-192.png", 192, 1.0), ("icon-512.png", 512, 1.0),
         ("icon-maskable-192.png", 192, 0.72), ("icon-maskable-512.png", 512, 0.72),
         ("apple-touch-icon.png", 180, 0.9)]


def draw(side: int, scale: float) -> Image.Image:
    # Drawn 4× larger, then reduced: cheap anti-aliasing.
    big = side * 4
    image = Image.new("RGB", (big, big), BRAND)
    pen = ImageDraw.Draw(image)
    inset = big * (1 - scale * 0.72) / 2
    page = (inset, inset * 1.05, big - inset, big - inset * 0.95)
    pen.rounded_rectangle(page, radius=big * 0.06 * scale, fill="white")
    left, top, right, bottom = page
    w, h = right - left, bottom - top
    width = max(4, int(big * 0.07 * scale))
    tick = [(left + w * 0.22, top + h * 0.52), (left + w * 0.42, top + h * 0.72),
            (left + w * 0.80, top + h * 0.28)]
    pen.line(tick, fill=CHECK, width=width, joint="curve")
    return image.resize((side, side), Image.Resampling.LANCZOS)


def main() -> None:
    for name, side, scale in ICONS:
        draw(side, scale).quantize(colors=32).save(HERE / name, optimize=True)


if __name__ == "__main__":
    main()
