"""Image downloads: size cap, content-type check, allow-list, redirects, unreadable bytes."""
from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.helpers import FIXTURES

from scraper.images import ImageError, ImageJob, download_images, fetch_image, image_relpath

SHOP_IMAGES = FIXTURES / "shop" / "images"
JPEG = (SHOP_IMAGES / "2140.jpg").read_bytes()
HOSTS = frozenset({"127.0.0.1"})


class Handler(BaseHTTPRequestHandler):
    routes = {
        "/ok.jpg": (200, "image/jpeg", JPEG),
        "/html.jpg": (200, "text/html", b"<html>blocked</html>"),
        "/garbage.jpg": (200, "image/jpeg", b"this is not a jpeg at all"),
        "/missing.jpg": (404, "text/html", b"nope"),
    }

    def do_GET(self):  # noqa: N802
        if self.path == "/redirect.jpg":
            self.send_response(302)
            self.send_header("Location", "http://localhost:%d/ok.jpg" % self.server.server_port)
            self.end_headers()
            return
        status, ctype, body = self.routes.get(self.path, (404, "text/plain", b""))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture(scope="module")
def base():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def fetch(url, max_bytes=1_000_000, hosts=HOSTS):
    return fetch_image(url, hosts, max_bytes, "lookbot-test", 10)


def test_good_image(base):
    assert fetch(base + "/ok.jpg") == JPEG


@pytest.mark.parametrize("path,reason", [
    ("/html.jpg", "not an image"), ("/garbage.jpg", "not a readable image"),
    ("/missing.jpg", "HTTP 404"), ("/redirect.jpg", "redirected to a host not allowed")])
def test_refusals(base, path, reason):
    with pytest.raises(ImageError, match=reason):
        fetch(base + path)


def test_size_cap(base):
    with pytest.raises(ImageError, match="too large"):
        fetch(base + "/ok.jpg", max_bytes=len(JPEG) - 1)
    assert fetch(base + "/ok.jpg", max_bytes=len(JPEG)) == JPEG


def test_host_not_allowed_is_never_fetched():
    with pytest.raises(ImageError, match="host not allowed"):
        fetch("http://assets.example.invalid/a.jpg")
    with pytest.raises(ImageError, match="host not allowed"):
        fetch("file:///etc/passwd")


def test_concurrent_downloads_store_atomically_and_report_each(base, tmp_path):
    jobs = [ImageJob(f"p{i}", base + path, tmp_path / image_relpath(f"p{i}", base + path))
            for i, path in enumerate(["/ok.jpg", "/html.jpg", "/ok.jpg", "/missing.jpg"])]
    results = download_images(jobs, HOSTS, 1_000_000, "lookbot-test", timeout=10, workers=4)
    assert [r.key for r in results] == ["p0", "p1", "p2", "p3"]
    assert [r.ok for r in results] == [True, False, True, False]
    for r in results:
        if r.ok:
            assert r.path.read_bytes() == JPEG and r.sha1 == hashlib.sha1(JPEG).hexdigest()
        else:
            assert r.error and r.path is None
    assert not list(tmp_path.rglob("*.tmp"))  # no temp files left behind
    # a changed image URL gets its own file, so a committed row's file is never overwritten
    assert image_relpath("1", "http://a/x.jpg") != image_relpath("1", "http://a/y.jpg")
    assert image_relpath("1", "http://a/x.jpg").startswith("images/myntra/1_")
