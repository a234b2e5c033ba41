"""The crawl loop: listing pages -> products -> images -> catalog, one listing at a time.

Every listing URL is crawled page by page (`?p=N`) until the site says there is no next page
or `max_pages` is reached. Only when all its pages were read does the listing get written, in
ONE transaction that upserts its products and (for a complete crawl) marks the products it no
longer lists inactive. A listing that fails (HTTP error, zero products, browser error, a kill)
writes nothing, so the catalog the bot serves never holds half a crawl.
"""
from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Optional

from tqdm import tqdm

from core.catalog import Catalog, now_iso
from core.config import Config

from . import store
from .images import ImageJob, download_images, image_relpath
from .locks import exclusive_lock
from .parse import Item, ListingPage, parse_listing
from .records import CrawlSummary, ListingResult, listing_key, normalise_url, to_record
from .site import LISTINGS, Listing, allowed_hosts, host_allowed, listing_for, page_url

log = logging.getLogger(__name__)


class CrawlBusy(RuntimeError):
    """Another crawl holds the lock on this data dir."""


class PageError(RuntimeError):
    """A listing page that cannot be used: HTTP error, or no products in it."""


def crawl_lock(data_dir: Path) -> contextlib.AbstractContextManager[None]:
    """An exclusive, non-blocking lock per data dir; released by the OS if the process dies."""
    return exclusive_lock(data_dir / "crawl.lock",
                          CrawlBusy(f"another crawl is running on {data_dir}"))


def close_stale_runs(catalog: Catalog) -> int:
    """Runs left 'running' by a killed crawl (we hold the lock, so none is alive)."""
    stale = [r["id"] for r in catalog.db.query(
        "select id from crawl_runs where status = 'running'")]
    for run_id in stale:
        catalog.finish_run(run_id, "failed", error="interrupted: the crawl process died")
    return len(stale)


class Crawler:
    """One crawl run over a list of listings with one browser."""

    def __init__(self, config: Config, catalog: Catalog, driver: Any, max_pages: int,
                 fetch_images: bool, progress: bool):
        self.config = config
        self.catalog = catalog
        self.driver = driver
        self.max_pages = max(1, max_pages)
        self.fetch_images = fetch_images
        self.hosts = allowed_hosts(config.crawl_hosts)
        self.summary = CrawlSummary()
        self.progress = progress
        self._last_load = 0.0

    # --- pages --------------------------------------------------------------------------
    def _polite_wait(self) -> None:
        wait = self.config.crawl_delay - (time.monotonic() - self._last_load)
        if self._last_load and wait > 0:
            time.sleep(wait)
        self._last_load = time.monotonic()

    def load_page(self, url: str) -> ListingPage:
        from .browser import http_status, read_myx, scroll_for_lazy_images
        if not host_allowed(url, self.hosts):
            raise PageError(f"host not allowed: {url}")
        self._polite_wait()
        log.info("loading %s", url)
        self.driver.get(url)
        status = http_status(self.driver)
        if status is not None and status >= 400:
            raise PageError(f"HTTP {status} on {url}")
        scroll_for_lazy_images(self.driver, timeout=min(15.0, self.config.crawl_page_timeout))
        page = parse_listing(self.driver.page_source)
        if not page.items:
            myx = read_myx(self.driver)
            if myx is not None:
                page = parse_listing(self.driver.page_source, myx=myx)
        if not page.items:
            raise PageError(f"zero products on {url} (has the markup changed?)")
        return page

    def crawl_listing(self, listing: Listing, bar: Optional[tqdm]) -> tuple[ListingResult,
                                                                            list[Item]]:
        result = ListingResult(url=listing.url, status="failed")
        items: dict[str, Item] = {}
        complete = False
        for n in range(1, self.max_pages + 1):
            page = self.load_page(page_url(listing.url, n))
            result.pages += 1
            self.summary.pages += 1
            if bar is not None:
                bar.update(1)
            for item in page.items:
                items.setdefault(item.product_id, item)
            if not page.has_next:
                complete = True
                break
        result.status = "complete" if complete else "truncated"
        result.products = len(items)
        return result, list(items.values())

    # --- images and the commit ----------------------------------------------------------
    def attach_images(self, records: list[dict[str, Any]], old: dict[str, dict[str, Any]]
                      ) -> None:
        jobs: list[ImageJob] = []
        data_dir = self.config.data_dir
        for r in records:
            prev = old.get(r["id"])
            url = r["image_url"]
            if prev and prev.get("image_url") == url and prev.get("image_path") \
                    and prev.get("image_sha1") and (data_dir / prev["image_path"]).exists():
                r["image_path"], r["image_sha1"] = prev["image_path"], prev["image_sha1"]
                continue
            if not url:
                r["image_error"] = "no image URL on the page"
                continue
            if not self.fetch_images:
                r["image_error"] = "not fetched (--no-images)"
                continue
            rel = image_relpath(r["product_id"], url)
            jobs.append(ImageJob(r["id"], url, data_dir / rel))
        if not jobs:
            return
        bar = tqdm(total=len(jobs), desc="images", unit="img", disable=not self.progress,
                   leave=False)
        try:
            results = download_images(
                jobs, self.hosts, self.config.crawl_image_max_bytes,
                self.config.crawl_user_agent, timeout=self.config.crawl_page_timeout,
                workers=self.config.crawl_image_workers, on_done=lambda _r: bar.update(1))
        finally:
            bar.close()
        by_id = {r["id"]: r for r in records}
        for res in results:
            rec = by_id[res.key]
            if res.ok:
                rec["image_path"] = str(res.path.relative_to(data_dir))
                rec["image_sha1"] = res.sha1
                self.summary.images_fetched += 1
            else:
                rec["image_error"] = res.error
                self.summary.images_failed += 1

    def commit(self, listing: Listing, result: ListingResult, items: list[Item]) -> None:
        now = now_iso()
        records = [r for r in (to_record(i, listing, now) for i in items) if r is not None]
        old = self.catalog.get_many([r["id"] for r in records])
        for r in records:
            prev = old.get(r["id"])
            if prev and prev.get("first_seen"):
                r["first_seen"] = prev["first_seen"]
        self.attach_images(records, old)
        counts = {"new": 0, "updated": 0, "unchanged": 0}
        for r in records:
            counts[store.classify(r, old.get(r["id"]))] += 1
        inactive = store.commit_listing(self.catalog, records, listing_key(listing.url),
                                        deactivate_unseen=result.status == "complete", now=now)
        self.summary.products_new += counts["new"]
        self.summary.products_updated += counts["updated"]
        self.summary.products_unchanged += counts["unchanged"]
        self.summary.products_inactive += inactive

    def run(self, listings: list[Listing]) -> None:
        bar = tqdm(total=len(listings) * self.max_pages, desc="pages", unit="page",
                   disable=not self.progress)
        try:
            for listing in listings:
                try:
                    result, items = self.crawl_listing(listing, bar)
                except Exception as e:  # noqa: BLE001 - one listing's failure is recorded
                    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                    log.error("listing %s failed: %s", listing.url, msg)
                    self.summary.listings.append(ListingResult(listing.url, "failed",
                                                               error=msg))
                    continue
                self.commit(listing, result, items)
                self.summary.listings.append(result)
                bar.total = bar.n + (len(listings) - len(self.summary.listings)) * self.max_pages
                bar.refresh()
        finally:
            bar.close()


def crawl(config: Config, urls: Optional[list[str]] = None, max_pages: Optional[int] = None,
          fetch_images: bool = True, *, driver: Any = None, progress: bool = True
          ) -> CrawlSummary:
    """Crawl `urls` (default: every listing of the Myntra profile) into the catalog.

    `max_pages` caps pages per listing (default LOOKBOT_CRAWL_MAX_PAGES); `fetch_images=False`
    skips image downloads. `driver` may be an open WebDriver to reuse (it is not quit).
    Never raises for crawl problems: the returned summary (also stored in `crawl_runs`) says
    what happened. Status is "ok" when every listing was crawled, "failed" otherwise, "busy"
    when another crawl holds the lock.
    """
    started = time.monotonic()
    listings = [listing_for(normalise_url(u)) for u in urls] if urls else list(LISTINGS)
    max_pages = max_pages if max_pages is not None else config.crawl_max_pages
    with _sigterm_as_exit():
        try:
            with crawl_lock(config.data_dir):
                summary = _crawl_locked(config, listings, max_pages, fetch_images, driver,
                                        progress)
        except CrawlBusy as e:
            summary = CrawlSummary(status="busy", error=str(e))
    summary.seconds = time.monotonic() - started
    return summary


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """SIGTERM (the bot stopping a refresh, a service manager) unwinds like Ctrl-C: the run is
    recorded as failed and the browser is quit instead of being left behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        raise SystemExit(f"terminated by signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _crawl_locked(config: Config, listings: list[Listing], max_pages: int, fetch_images: bool,
                  driver: Any, progress: bool) -> CrawlSummary:
    catalog = Catalog(config.catalog_path, data_dir=config.data_dir)
    store.ensure_columns(catalog)
    stale = close_stale_runs(catalog)
    if stale:
        log.warning("marked %d interrupted crawl run(s) as failed", stale)
    run_id = catalog.start_run([l.url for l in listings])
    own_driver = driver is None
    crawler: Optional[Crawler] = None
    summary = CrawlSummary(run_id=run_id)
    try:
        if own_driver:
            from .browser import make_driver
            driver = make_driver(config)
        crawler = Crawler(config, catalog, driver, max_pages, fetch_images, progress)
        crawler.summary.run_id = run_id
        crawler.run(listings)
        summary = crawler.summary
        failed = [r for r in summary.listings if r.status == "failed"]
        summary.status = "failed" if failed or not summary.listings else "ok"
        if failed:
            summary.error = "; ".join(f"{r.url}: {r.error}" for r in failed)
    except BaseException as e:  # KeyboardInterrupt/SystemExit too: record, then re-raise
        summary = crawler.summary if crawler is not None else summary
        summary.status = "failed"
        summary.error = f"{type(e).__name__}: {e}".strip().splitlines()[0]
        catalog.finish_run(run_id, "failed", error=summary.error, **summary.counts())
        if not isinstance(e, Exception):
            raise
        log.error("crawl failed: %s", summary.error)
        return summary
    finally:
        if own_driver and driver is not None:
            with contextlib.suppress(Exception):
                driver.quit()
    catalog.finish_run(run_id, summary.status, error=summary.error, **summary.counts())
    return summary
