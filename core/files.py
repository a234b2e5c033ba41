"""The engine over photo files, one result per file, as `lookbot look`, `detect` and `similar` run it.

A path that cannot be read (missing, a folder, not allowed) gets the `unreadable_file` reason
with what was wrong, so a batch never stops at a bad path.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator, Optional, Sequence

from .pipeline import DetectResult, Engine, SimilarResult
from .records import GateVerdict, LookResult, SearchOptions

log = logging.getLogger(__name__)


UNREADABLE = "unreadable_file"


def read_photo(path: str | Path) -> tuple[bytes, Optional[str]]:
    """(file bytes, None), or (b"", what was wrong) for a path that cannot be read."""
    try:
        return Path(path).read_bytes(), None
    except FileNotFoundError:
        return b"", "There is no such file."
    except IsADirectoryError:
        return b"", "That is a folder, not a photo."
    except OSError as exc:
        return b"", f"Cannot read this file ({exc.strerror or exc})."


def drawing_path(draw: Path, i: int, n: int) -> Path:
    """Where photo `i` of `n` is drawn: `draw` itself for one photo, numbered copies for more."""
    return draw if n == 1 else draw.with_name(f"{draw.stem}-{i + 1}{draw.suffix}")


def look_files(engine: Engine, paths: Sequence[str], options: Optional[SearchOptions] = None,
               draw: Optional[Path] = None) -> Iterator[tuple[str, LookResult]]:
    """Look at each photo file; with `draw`, also save it with the detected articles boxed."""
    for i, path in enumerate(paths):
        data, problem = read_photo(path)
        if problem is not None:
            yield path, LookResult(path, GateVerdict(False, UNREADABLE, problem, people=0))
            continue
        result = engine.look(data, photo=path, options=options)
        if draw is not None and result.width:  # only a photo that decoded is drawn
            from .draw import draw_detections

            out = drawing_path(Path(draw), i, len(paths))
            if draw_detections(data, [a.detection for a in result.articles], out):
                log.info("drew %s", out)
        yield path, result


def detect_files(engine: Engine, paths: Sequence[str]) -> Iterator[tuple[str, DetectResult]]:
    """The fused detections of each photo file, without the gate."""
    for path in paths:
        data, problem = read_photo(path)
        yield path, DetectResult(path, UNREADABLE, problem) if problem is not None else \
            engine.detect(data, photo=path)


def similar_files(engine: Engine, paths: Sequence[str], category: str,
                  options: Optional[SearchOptions] = None) -> Iterator[tuple[str, SimilarResult]]:
    """Products similar to each photo file of a single article of `category`."""
    for path in paths:
        data, problem = read_photo(path)
        yield path, SimilarResult(path, UNREADABLE, problem) if problem is not None else \
            engine.similar(data, category, photo=path, options=options)
