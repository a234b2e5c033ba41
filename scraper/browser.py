"""Headless Chromium through Selenium: the local Debian build, or a Selenium Grid."""
from __future__ import annotations

import logging
import time
from typing import Optional

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from core.config import Config

log = logging.getLogger(__name__)

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--window-size=1366,900", "--disable-extensions",
         "--mute-audio")


def chrome_options(config: Config) -> webdriver.ChromeOptions:
    options = webdriver.ChromeOptions()
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-agent={config.crawl_user_agent}")
    return options


def make_driver(config: Config) -> WebDriver:
    """A WebDriver: `webdriver.Remote` when LOOKBOT_SELENIUM_URL is set, else local Chromium.

    The local driver is Debian's `/usr/bin/chromedriver`, so Selenium Manager never runs.
    """
    options = chrome_options(config)
    if config.selenium_url:
        log.info("using Selenium Grid at %s", config.selenium_url)
        driver = webdriver.Remote(command_executor=config.selenium_url, options=options)
    else:
        options.binary_location = CHROMIUM
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(config.crawl_page_timeout)
    driver.set_script_timeout(config.crawl_page_timeout)
    return driver


def http_status(driver: WebDriver) -> Optional[int]:
    """HTTP status of the current document (Navigation Timing), when the browser reports it."""
    try:
        status = driver.execute_script(
            "const e = performance.getEntriesByType('navigation')[0];"
            "return e && e.responseStatus ? e.responseStatus : null;")
    except Exception:  # noqa: BLE001 - older browsers, odd documents
        return None
    return int(status) if status else None


SCROLL_JS = "window.scrollBy(0, Math.max(200, window.innerHeight * 0.8));" \
            "return [window.scrollY + window.innerHeight, document.body.scrollHeight];"
PENDING_IMAGES_JS = """
const cards = document.querySelectorAll('li.product-base');
let pending = 0;
cards.forEach(c => {
  const img = c.querySelector('picture img, img.img-responsive');
  if (!img || !img.getAttribute('src') || img.getAttribute('src').startsWith('data:')) pending++;
});
return [cards.length, pending];
"""


def scroll_for_lazy_images(driver: WebDriver, timeout: float = 10.0, step_pause: float = 0.15
                           ) -> tuple[int, int]:
    """Scroll to the bottom step by step so lazy card images load; wait for them.

    Returns (cards, cards still without an image) when all loaded or `timeout` ran out.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        bottom, height = driver.execute_script(SCROLL_JS)
        time.sleep(step_pause)
        if bottom >= height - 2:
            break
    cards, pending = driver.execute_script(PENDING_IMAGES_JS)
    while pending and time.monotonic() < deadline:
        # Images that came into view while scrolling fast may need another pass.
        driver.execute_script("window.scrollTo(0, 0);")
        for _ in range(50):
            bottom, height = driver.execute_script(SCROLL_JS)
            time.sleep(step_pause)
            if bottom >= height - 2:
                break
        cards, pending = driver.execute_script(PENDING_IMAGES_JS)
    if pending:
        log.warning("%d of %d cards still have no image after scrolling", pending, cards)
    return int(cards), int(pending)


def read_myx(driver: WebDriver) -> Optional[dict]:
    """`window.__myx` as the page's scripts see it, or None."""
    try:
        value = driver.execute_script("return window.__myx || null;")
    except Exception:  # noqa: BLE001
        return None
    return value if isinstance(value, dict) else None
