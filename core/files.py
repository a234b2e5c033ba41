"""The engine over photo files, one result per file, as `lookbot look`, `detect` and `similar` run it.

A file that cannot be read is passed on as empty bytes, which the engine answers with its
`empty_file` reason, so a batch never stops at a bad path.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator, Optional, Sequence

from .pipeline import DetectResult, Engine, SimilarResult
from .records import LookResult, SearchOptions

log = logging.getLogger(__name__)


def read_photo(path: str | Path) -> bytes:
    """File bytes; an unreadable path becomes empty bytes, which the engine reports clearly."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        log.warning("cannot read %s: %s", path, exc)
        return b""


def drawing_path(draw: Path, i: int, n: int) -> Path:
    """Where photo `i` of `n` is drawn: `draw` itself for one photo, numbered copies for more."""
    return draw if n == 1 else draw.with_name(f"{draw.stem}-{i + 1}{draw.suffix}")


def look_files(engine: Engine, paths: Sequence[str], options: Optional[SearchOptions] = None,
               draw: Optional[Path] = None) -> Iterator[tuple[str, LookResult]]:
    """Look at each photo file; with `draw`, also save it with the detected articles boxed."""
    for i, path in enumerate(paths):
        data = read_photo(path)
        result = engine.look(data, photo=path, options=options)
        if draw is not None:
            from .draw import draw_detections

            out = drawing_path(Path(draw), i, len(paths))
            if draw_detections(data, [a.detection for a in result.articles], out):
                log.info("drew %s", out)
        yield path, result


def detect_files(engine: Engine, paths: Sequence[str]) -> Iterator[tuple[str, DetectResult]]:
    """The fused detections of each photo file, without the gate."""
    for path in paths:
        yield path, engine.detect(read_photo(path), photo=path)


def similar_files(engine: Engine, paths: Sequence[str], category: str,
                  options: Optional[SearchOptions] = None) -> Iterator[tuple[str, SimilarResult]]:
    """Products similar to each photo file of a single article of `category`."""
    for path in paths:
        yield path, engine.similar(read_photo(path), category, photo=path, options=options)
