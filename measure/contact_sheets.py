"""Pictures of retrieval examples for `lookbot eval`: a contact sheet (each query, then its
results) and the street picks' sheet: for some CCP validation garments, the garment as the photo
shows it (with its label and the wearer's call), then the products `look` picks for it, each
captioned with its type and gender, and marked "x" when its type is not one a shopper would
accept (runs/eval/street_picks.png)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from PIL import Image, ImageDraw

from .eval_data import load_rgb_file


def contact_sheet(rows: Sequence[tuple[Image.Image, str, Sequence[tuple[Image.Image, str]]]],
                  path: Path, cell: tuple[int, int] = (96, 128)) -> Path:
    """One row per query: the query crop, then its results, each with a caption below."""
    cw, ch = cell
    cap = 26
    ncols = 1 + max((len(r[2]) for r in rows), default=0)
    sheet = Image.new("RGB", (ncols * (cw + 6) + 6, max(1, len(rows)) * (ch + cap + 6) + 6),
                      (255, 255, 255))
    draw = ImageDraw.Draw(sheet)

    def put(im: Image.Image, text: str, col: int, row: int, frame: tuple[int, int, int]):
        x, y = 6 + col * (cw + 6), 6 + row * (ch + cap + 6)
        im = im.convert("RGB").copy()
        im.thumbnail((cw, ch))
        sheet.paste(im, (x + (cw - im.width) // 2, y + (ch - im.height) // 2))
        draw.rectangle((x - 1, y - 1, x + cw, y + ch), outline=frame)
        for i, line in enumerate(text.split("\n")[:2]):
            draw.text((x, y + ch + 2 + i * 12), line[:17], fill=(0, 0, 0))

    for r, (query, caption, results) in enumerate(rows):
        put(query, caption, 0, r, (220, 40, 40))
        for c, (im, text) in enumerate(results):
            put(im, text, c + 1, r, (160, 160, 160))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path


def sheet_rows(garments: Sequence[tuple[str, str]], n_topwear: int = 10, n_other: int = 6
               ) -> list[int]:
    """Which garments (image, category) to draw: spread evenly over the topwear, where the
    type is hardest, and over the rest."""
    def spread(rows: list[int], n: int) -> list[int]:
        step = max(1, len(rows) // max(n, 1))
        return rows[::step][:n]

    top = [i for i, (_, cat) in enumerate(garments) if cat == "topwear"]
    rest = [i for i, (_, cat) in enumerate(garments) if cat != "topwear"]
    return sorted(spread(top, n_topwear) + spread(rest, n_other))


def draw_picks(rows: Sequence[tuple[str, tuple, str, Sequence[tuple[str, str, bool]]]],
               ccp_dir: Path, path: Path) -> Path:
    """`rows`: (photo, the garment's box, its caption, [(product image file, caption, type
    accepted)]) -> the sheet at `path`."""
    cells = []
    for image, box, caption, picks in rows:
        with Image.open(Path(ccp_dir) / "photos" / image) as photo:
            query = photo.convert("RGB").crop(tuple(int(v) for v in box))
        products = [(load_rgb_file(Path(f)) or Image.new("RGB", (60, 80), "white"),
                     text if ok else "x " + text) for f, text, ok in picks]
        cells.append((query, caption, products))
    return contact_sheet(cells, path)
