"""A card's picture: the products side by side, numbered, with brand, title and price under each.

No picture is blown up more than twice its own size, so the demo catalog's 60x80 thumbnails stay
sharp: a card of small pictures gets small tiles, five to a row; a card whose pictures are all
large (or have a larger copy in the catalog, `core.catalog.larger_copy`) gets tiles of 240x320,
three to a row.
"""
from __future__ import annotations

import io
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence, TypeVar, Union

import cachetools
from PIL import Image, ImageDraw

from core.catalog import larger_copy
from core.draw import font
from core.records import Product

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_UPSCALE = 2.0
PAD = 8
BADGE = (255, 63, 108)
INK, GREY, TILE_BG = (40, 44, 63), (90, 90, 90), (244, 244, 244)
# Finished tiles kept, up to this many bytes of pixels (about 580 small tiles or 160 large):
# products come back look after look; on 206 looks at the demo catalog, 1,029 products filled
# 3,595 tiles, and a cache of 512 tiles would have held 61% of them already drawn.
TILE_CACHE_BYTES = 48 * 2 ** 20


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


def sources(product: Product) -> list[Path]:
    """The files a product's tile may show, in order: its larger copy when the catalog has one,
    then its picture; none for a remote URL (not yet downloaded: a blank tile)."""
    if not product.image or product.image.startswith(("http://", "https://")):
        return []
    own = Path(product.image)
    large = larger_copy(own)
    return [large, own] if large.exists() else [own]


def first_readable(paths: Sequence[Union[Path, str]], read: Callable[[Image.Image], T]
                   ) -> Optional[T]:
    """`read` of the first of `paths` that opens and reads; None when none does. A broken catalog
    file is logged and the next one tried: it must not cost the whole card."""
    for path in paths:
        try:
            with Image.open(path) as im:
                return read(im)
        except Exception as exc:
            log.warning("cannot open product image %s: %s", path, exc)
    return None


def picture(product: Product) -> Optional[Image.Image]:
    """The product's larger copy when the catalog has one, else its picture; None without one."""
    return first_readable(sources(product), lambda im: im.convert("RGB"))


@dataclass(frozen=True)
class Size:
    width: int
    height: int


def picture_size(paths: Sequence[Path]) -> Optional[Size]:
    """The size of the first of `paths` that opens, read from the file's header alone."""
    return first_readable(paths, lambda im: Size(*im.size))


def layout_for(pictures: Sequence[Optional[Union[Image.Image, Size]]]) -> Layout:
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
    lo, hi = 0, len(text)  # the longest prefix that fits with its ellipsis: prefix widths only grow
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if draw.textlength(text[:mid] + "…", font=f) <= width:
            lo = mid
        else:
            hi = mid - 1
    text = text[:lo]
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
    paths = [sources(p) for p in products]
    lay = layout_for([picture_size(f) for f in paths])
    n = max(1, len(products))
    cols = min(n, lay.per_row)
    rows = (n + cols - 1) // cols
    cell_h = lay.tile_h + lay.text_h
    canvas = Image.new("RGB", (cols * (lay.tile_w + PAD) + PAD, rows * (cell_h + PAD) + PAD),
                       "white")
    draw = ImageDraw.Draw(canvas)
    badge = round(lay.tile_w / 7)
    for i, (p, files) in enumerate(zip(products, paths)):
        x = PAD + (i % cols) * (lay.tile_w + PAD)
        y = PAD + (i // cols) * (cell_h + PAD)
        canvas.paste(tile(p, files, lay), (x, y))
        draw.ellipse([x + 4, y + 4, x + 4 + badge, y + 4 + badge], fill=BADGE)
        draw.text((x + 4 + badge / 2, y + 4 + badge / 2), str(first + i), anchor="mm",
                  font=font(round(badge * 0.6), bold=True), fill="white")
    buf = io.BytesIO()
    canvas.save(buf, format="JPEG", quality=88)
    return buf.getvalue()


def tile(product: Product, files: Sequence[Path], lay: Layout) -> Image.Image:
    """A product's picture (the first of `files` that opens) with its brand, title and price
    under it, unnumbered. The last tiles drawn are kept (TILE_CACHE_BYTES), named by the files
    (with the first one's change time) and the words: a kept tile costs nothing to draw again,
    a new one about 2 ms. Callers paste it and never change it."""
    try:
        changed = files[0].stat().st_mtime_ns if files else 0
    except OSError:
        changed = -1
    # with a brand (shown apart, in bold) the title loses its leading brand
    title = title_without_brand(product) if product.brand else product.title
    return _tile(tuple(str(f) for f in files), changed, product.brand or "", title,
                 product.price_label, lay)


@cachetools.cached(cachetools.LRUCache(TILE_CACHE_BYTES, getsizeof=lambda im: im.width * im.height * 3),
                   lock=threading.Lock())  # cards render in the worker pool's threads
def _tile(files: tuple[str, ...], changed: int, brand: str, title: str, price: str, lay: Layout
          ) -> Image.Image:
    out = Image.new("RGB", (lay.tile_w, lay.tile_h + lay.text_h), "white")
    draw = ImageDraw.Draw(out)
    draw.rectangle([0, 0, lay.tile_w - 1, lay.tile_h - 1], fill=TILE_BG)
    picture_in(out, files, lay)
    width, ty = lay.tile_w - 4, lay.tile_h + 4
    lines = 3  # without a brand, the title takes the brand's line too
    if brand:
        draw.text((2, ty), fit(draw, brand, lay.brand, width, bold=True),
                  font=font(lay.brand, bold=True), fill=INK)
        ty += round(1.3 * lay.brand)
        lines = 2
    for line in wrap(draw, title, lay.title, width, lines):
        draw.text((2, ty), line, font=font(lay.title), fill=INK)
        ty += round(1.3 * lay.title)
    draw.text((2, lay.tile_h + lay.text_h - round(1.3 * lay.price)),
              fit(draw, price, lay.price, width), font=font(lay.price), fill=GREY)
    return out


def picture_in(out: Image.Image, files: Sequence[str], lay: Layout) -> None:
    """The first of `files` that opens, centred in the tile's picture area, at most MAX_UPSCALE
    its size; a JPEG much larger than the tile is decoded at a reduced scale first (`draft`)."""
    def shrunk(im: Image.Image) -> Image.Image:
        scale = min(lay.tile_w / im.width, lay.tile_h / im.height, MAX_UPSCALE)
        size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
        im.draft("RGB", size)  # JPEG only: 1/2, 1/4 or 1/8 scale, never below `size`
        return im.convert("RGB").resize(size, Image.LANCZOS)

    image = first_readable(files, shrunk)
    if image is not None:
        out.paste(image, ((lay.tile_w - image.width) // 2, (lay.tile_h - image.height) // 2))
