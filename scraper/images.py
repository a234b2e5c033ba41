"""Concurrent product image downloads: allow-listed hosts, a size cap and a content-type check."""
from __future__ import annotations

import hashlib
import io
import logging
import os
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

from PIL import Image

from .site import host_allowed

log = logging.getLogger(__name__)

ACCEPTED_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")


@dataclass
class ImageJob:
    key: str  # product id
    url: str
    dest: Path  # absolute path to write


@dataclass
class ImageResult:
    key: str
    url: str
    path: Optional[Path] = None
    sha1: Optional[str] = None
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.path is not None


def image_relpath(product_id: str, url: str) -> str:
    """Where a product image lives under the data dir: one file per product and image URL.

    A changed image URL gets a new file, so the file a committed row points at is never
    overwritten by a crawl that has not committed yet.
    """
    tag = hashlib.sha1(url.encode()).hexdigest()[:8]
    safe = "".join(c for c in product_id if c.isalnum() or c in "-_")
    return f"images/myntra/{safe}_{tag}.jpg"


class ImageError(Exception):
    pass


def fetch_image(url: str, hosts: frozenset[str], max_bytes: int, user_agent: str,
                timeout: float) -> bytes:
    """The bytes of an image at `url`, or ImageError saying why not."""
    if not host_allowed(url, hosts):
        raise ImageError(f"host not allowed: {url}")
    request = urllib.request.Request(url, headers={"User-Agent": user_agent,
                                                   "Accept": "image/*"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            final = response.geturl()
            if final != url and not host_allowed(final, hosts):
                raise ImageError(f"redirected to a host not allowed: {final}")
            ctype = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype not in ACCEPTED_TYPES:
                raise ImageError(f"not an image: Content-Type {ctype or 'missing'!r}")
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise ImageError(f"too large: {length} bytes > {max_bytes}")
            data = response.read(max_bytes + 1)
    except urllib.error.HTTPError as e:
        raise ImageError(f"HTTP {e.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        raise ImageError(f"fetch failed: {getattr(e, 'reason', e)}") from None
    if len(data) > max_bytes:
        raise ImageError(f"too large: over {max_bytes} bytes")
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.verify()
    except Exception as e:  # noqa: BLE001 - PIL raises many kinds
        raise ImageError(f"not a readable image: {e}") from None
    return data


def _store(job: ImageJob, data: bytes) -> str:
    job.dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = job.dest.with_name(f".{job.dest.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, job.dest)  # atomic: a reader sees the old file or the whole new one
    return hashlib.sha1(data).hexdigest()


def download_images(jobs: Iterable[ImageJob], hosts: frozenset[str], max_bytes: int,
                    user_agent: str, timeout: float = 30.0, workers: int = 8,
                    on_done: Optional[Callable[[ImageResult], None]] = None
                    ) -> list[ImageResult]:
    """Download `jobs` concurrently; every job gets a result, failed ones with `error` set."""
    def one(job: ImageJob) -> ImageResult:
        try:
            data = fetch_image(job.url, hosts, max_bytes, user_agent, timeout)
            sha1 = _store(job, data)
            result = ImageResult(job.key, job.url, path=job.dest, sha1=sha1)
        except ImageError as e:
            log.warning("image for %s failed: %s", job.key, e)
            result = ImageResult(job.key, job.url, error=str(e))
        except OSError as e:
            result = ImageResult(job.key, job.url, error=f"could not store: {e}")
        if on_done:
            on_done(result)
        return result

    jobs = list(jobs)
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(one, jobs))
