"""Draw the app icon (resources/icons/styledomain.png and .ico): a face silhouette split into two styles.

Deterministic; run ``python tools/make_icon.py`` to regenerate.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

OUT = Path(__file__).resolve().parent.parent / "resources" / "icons"


def draw(size: int = 512) -> Image.Image:
    s = size / 512
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((16 * s, 16 * s, 496 * s, 496 * s), radius=96 * s, fill=(32, 36, 48, 255))
    left = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    ld = ImageDraw.Draw(left)
    ld.ellipse((136 * s, 96 * s, 376 * s, 400 * s), fill=(236, 196, 160, 255))  # photo-like half
    right = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    rd = ImageDraw.Draw(right)
    rd.ellipse((136 * s, 96 * s, 376 * s, 400 * s), fill=(120, 196, 255, 255))  # restyled half
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).rectangle((0, 0, size // 2, size), fill=255)
    face = Image.composite(left, right, mask)
    img.alpha_composite(face)
    d = ImageDraw.Draw(img)
    for cx in (210, 302):  # eyes
        d.ellipse(((cx - 18) * s, 210 * s, (cx + 18) * s, 246 * s), fill=(32, 36, 48, 255))
    d.arc((200 * s, 260 * s, 312 * s, 340 * s), start=20, end=160, fill=(32, 36, 48, 255), width=max(1, int(12 * s)))
    d.line((256 * s, 72 * s, 256 * s, 424 * s), fill=(255, 255, 255, 230), width=max(1, int(8 * s)))
    d.ellipse((232 * s, 424 * s, 280 * s, 472 * s), fill=(255, 255, 255, 255))  # the blend puck
    return img.filter(ImageFilter.SMOOTH) if size >= 256 else img


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    big = draw(512)
    big.resize((256, 256), Image.LANCZOS).save(OUT / "styledomain.png")
    big.save(OUT / "styledomain.ico", sizes=[(16, 16), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)])


if __name__ == "__main__":
    main()
