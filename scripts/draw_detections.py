"""Draw what `look` detects on a few CCP validation photos, beside their labels, as one picture.

    python scripts/draw_detections.py [--out docs/figures/detections.jpg] [PHOTO ...]

Each panel is one photo: the engine's fused detections at the configured score threshold in
`core.draw`'s colour per class, and the labelled boxes in white. Default photos: three validation
photos of `data/models/detector_split.json` with all five classes between them.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from PIL import Image, ImageDraw

from training.ccp_dataset import load_ccp_labels
from core.config import SHARED_CCP, Config
from core.detect import scale_detections
from core.draw import render
from core.pipeline import Engine

PHOTOS = ("0035.jpg", "0053.jpg", "0137.jpg")
PANEL_HEIGHT = 500


def panel(engine: Engine, path: Path, labels) -> Image.Image:
    data = path.read_bytes()
    photo = engine.decode(data)
    verdict, raw = engine.check_gate(photo)
    dets = scale_detections(engine.detect_photo(photo, verdict, raw=raw), photo.scale, photo.width,
                            photo.height)
    image = render(data, dets, max_side=max(photo.width, photo.height))
    draw = ImageDraw.Draw(image)
    for _, box in labels:
        draw.rectangle(list(box), outline=(255, 255, 255), width=2)
    width = round(image.width * PANEL_HEIGHT / image.height)
    return image.resize((width, PANEL_HEIGHT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="*", default=list(PHOTOS), help="names in ccp/photos")
    parser.add_argument("--out", default="docs/figures/detections.jpg")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    engine = Engine(Config.from_env(), load_index=False)
    labels = load_ccp_labels(SHARED_CCP)
    panels = [panel(engine, SHARED_CCP / "photos" / name, labels[name].boxes) for name in args.photos]
    sheet = Image.new("RGB", (sum(p.width for p in panels), PANEL_HEIGHT), "white")
    x = 0
    for p in panels:
        sheet.paste(p, (x, 0))
        x += p.width
    sheet.save(args.out, quality=90)
    logging.info("wrote %s (%d photos)", args.out, len(panels))


if __name__ == "__main__":
    main()
