"""A card's picture: the products side by side, numbered, with brand, title and price under each.

No picture is blown up more than twice its own size, so the demo catalog's 60x80 thumbnails stay
sharp: a card of small pictures gets small tiles, five to a row; a card whose pictures are all
large (or have a larger copy in the catalog, `core.catalog.larger_copy`) gets tiles of 240x320,
three to a row.
"""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import Optional, Sequence

from PIL import Image, ImageDraw

from core.catalog import larger_copy
from core.draw import font
from core.records import Product

log = logging.getLogger(__name__)

MAX_UPSCALE = 2.0
PAD = 8
BADGE = (255, 63, 108)
INK, GREY, TILE_BG = (40, 44, 63), (90, 90, 90), (244, 244, 244)


@dataclass(frozen=True)
class Layout:
    """Tile size, tiles per row and the sizes of the text under each tile."""

    tile_w: int
    tile_h: int
    per_row: int
    brand: int  # font sizes in px
    title: int
    price: int

    @property
    def text_h(self) -> int:  # brand, two lines of title, price
        return round(1.3 * (self.brand + 2 * self.title + self.price)) + 6


LARGE = Layout(240, 320, 3, brand=17, title=15, price=16)
SMALL = Layout(120, 160, 5, brand=13, title=12, price=12)


def title_without_brand(product: Product) -> str:
    """The title, less the brand it usually starts with (shown apart, in bold)."""
    title, brand = product.title.strip(), (product.brand or "").strip()
    if brand and title.lower().startswith(brand.lower() + " "):
        return title[len(brand):].strip()
    return title


def picture(product: Product) -> Optional[Image.Image]:
    """The product's larger copy when the catalog has one, else its picture; None without one."""
    # A remote URL (not yet downloaded) gets a blank tile.
    if not product.image or product.image.startswith(("http://", "https://")):
        return None
    large = larger_copy(product.image)
    for path in ((large, product.image) if large.exists() else (product.image,)):
        try:
            with Image.open(path) as im:
                return im.convert("RGB")
        except Exception as exc:  # a broken catalog file must not cost the whole card
            log.warning("cannot open product image %s: %s", path, exc)
    return None


def layout_for(pictures: Sequence[Optional[Image.Image]]) -> Layout:
    """LARGE when every picture fills its tile within MAX_UPSCALE, else SMALL."""
    known = [p for p in pictures if p is not None]
    if all(min(p.width * MAX_UPSCALE / LARGE.tile_w, p.height * MAX_UPSCALE / LARGE.tile_h) >= 1
           for p in known):
        return LARGE
    return SMALL


def fit(draw: ImageDraw.ImageDraw, text: str, size: int, width: int, bold: bool = False) -> str:
    """`text` cut with an ellipsis to fit `width` px."""
    f = font(size, bold)
    if draw.textlength(text, font=f) <= width:
        return text
    while text and draw.textlength(text + "…", font=f) > width:
        text = text[:-1]
    return text.rstrip() + "…" if text else ""


def wrap(draw: ImageDraw.ImageDraw, text: str, size: int, width: int, lines: int) -> list[str]:
    """`text` in at most `lines` lines of `width` px, the last cut with an ellipsis."""
    f, out, words = font(size), [], text.split()
    while words and len(out) < lines:
        line = words.pop(0)
        while words and draw.textlength(f"{line} {words[0]}", font=f) <= width:
            line += " " + words.pop(0)
        out.append(line)
    if words or (out and draw.textlength(out[-1], font=f) > width):
        out[-1] = fit(draw, out[-1] + " " + " ".join(words), size, width)
    return out


def collage(products: Sequence[Product], first: int = 1) -> bytes:
    """The products' tiles in rows, numbered from `first`, with brand, title and price; JPEG."""
    pictures = [picture(p) for p in products]
    lay = layout_for(pictures)
    n = max(1, len(products))
    cols = min(n, lay.per_row)
    rows = (n + cols - 1) // cols
    cell_h = lay.tile_h + lay.text_h
    canvas = Image.new("RGB", (cols * (lay.tile_w + PAD) + PAD, rows * (cell_h + PAD) + PAD),
                       "white")
    draw = ImageDraw.Draw(canvas)
    badge = round(lay.tile_w / 7)
    for i, (p, image) in enumerate(zip(products, pictures)):
        x = PAD + (i % cols) * (lay.tile_w + PAD)
        y = PAD + (i // cols) * (cell_h + PAD)
        draw.rectangle([x, y, x + lay.tile_w - 1, y + lay.tile_h - 1], fill=TILE_BG)
        if image is not None:
            scale = min(lay.tile_w / image.width, lay.tile_h / image.height, MAX_UPSCALE)
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(size, Image.LANCZOS)
            canvas.paste(image, (x + (lay.tile_w - size[0]) // 2,
                                 y + (lay.tile_h - size[1]) // 2))
        draw.ellipse([x + 4, y + 4, x + 4 + badge, y + 4 + badge], fill=BADGE)
        draw.text((x + 4 + badge / 2, y + 4 + badge / 2), str(first + i), anchor="mm",
                  font=font(round(badge * 0.6), bold=True), fill="white")
        width, ty = lay.tile_w - 4, y + lay.tile_h + 4
        title, lines = p.title, 3  # without a brand, the title takes the brand's line too
        if p.brand:
            draw.text((x + 2, ty), fit(draw, p.brand, lay.brand, width, bold=True),
                      font=font(lay.brand, bold=True), fill=INK)
            ty += round(1.3 * lay.brand)
            title, lines = title_without_brand(p), 2
        for line in wrap(draw, title, lay.title, width, lines):
            draw.text((x + 2, ty), line, font=font(lay.title), fill=INK)
            ty += round(1.3 * lay.title)
        draw.text((x + 2, y + lay.tile_h + lay.text_h - round(1.3 * lay.price)),
                  fit(draw, p.price_label, lay.price, width), font=font(lay.price), fill=GREY)
    buf = io.BytesIO()
    canvas.save(buf, format="JPEG", quality=88)
    return buf.getvalue()
