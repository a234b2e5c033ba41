"""Configuration read from environment variables, with documented defaults."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT / "data" / "demo"
MODELS_DIR = REPO_ROOT / "data" / "models"
# The labelled data for training and measuring (../shared/data beside the repository).
SHARED_DATA = Path(os.environ.get("LOOKBOT_SHARED_DATA") or REPO_ROOT.parent / "shared" / "data")
SHARED_CATALOG = SHARED_DATA / "catalog"  # labelled Myntra product images (products.csv)
SHARED_CCP = SHARED_DATA / "ccp"  # street photos with garment boxes and masks
SHARED_PEOPLE = SHARED_DATA / "people"  # full-shot and not-full-shot photos, labelled


def _env(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


@dataclass
class Config:
    """Every knob lookbot reads. Each field names its environment variable in `metadata`."""

    data_dir: Path = field(default=DEFAULT_DATA_DIR, metadata={"env": "LOOKBOT_DATA_DIR",
        "doc": "catalog.db, product images, embeddings and index versions"})
    models_dir: Path = field(default=MODELS_DIR, metadata={"env": "LOOKBOT_MODELS_DIR",
        "doc": "trained detector and embedding head"})
    backbone: str = field(default="efficientnet_lite2", metadata={"env": "LOOKBOT_BACKBONE",
        "doc": "efficientnet_lite2 (bundled) or resnet50 (needs torch cache weights)"})
    use_embedding_head: bool = field(default=True, metadata={"env": "LOOKBOT_EMBEDDING_HEAD",
        "doc": "use the trained fashion embedding head from models_dir when present (1/0)"})
    use_tuned_backbone: bool = field(default=True, metadata={"env": "LOOKBOT_TUNED_BACKBONE",
        "doc": "use the fine-tuned EfficientNet-Lite2 weights (models_dir/backbone.pt) when present (1/0)"})
    use_detector: bool = field(default=True, metadata={"env": "LOOKBOT_DETECTOR",
        "doc": "use the trained YOLO detector from models_dir when present (1/0)"})
    detector_score: float = field(default=0.25, metadata={"env": "LOOKBOT_DETECTOR_SCORE",
        "doc": "minimum YOLO score for an article to be shown"})
    pose_score: float = field(default=0.5, metadata={"env": "LOOKBOT_POSE_SCORE",
        "doc": "score given to pose-guided fallback regions"})
    fusion_iou: float = field(default=0.6, metadata={"env": "LOOKBOT_FUSION_IOU",
        "doc": "NMS IoU within a category when fusing detector boxes and pose regions; the "
               "detector's own NMS IoU, since a stricter one drops the second shoe of a pair"})
    fusion_cross_iou: float = field(default=0.9, metadata={"env": "LOOKBOT_FUSION_CROSS_IOU",
        "doc": "NMS IoU across categories (same region named twice); 0 switches it off"})
    detector_imgsz: int = field(default=0, metadata={"env": "LOOKBOT_DETECTOR_IMGSZ",
        "doc": "YOLO inference size in pixels; 0 uses the size detector.pt was trained at"})
    detector_ensemble: str = field(default="detector-576.pt", metadata={"env": "LOOKBOT_DETECTOR_ENSEMBLE",
        "doc": "further detector weights in models_dir (comma-separated) whose boxes are merged with "
               "detector.pt's by weighted box fusion; none: detector.pt alone"})
    detector_runtime: str = field(default="onnx", metadata={"env": "LOOKBOT_DETECTOR_RUNTIME",
        "doc": "run the detectors with onnx (ONNX Runtime, exported once into models_dir/cache) or "
               "torch; onnx falls back to torch when it is not installed"})
    gate_visibility: float = field(default=0.5, metadata={"env": "LOOKBOT_GATE_VISIBILITY",
        "doc": "minimum MediaPipe visibility of the eyes"})
    gate_foot_visibility: float = field(default=0.4, metadata={"env": "LOOKBOT_GATE_FOOT_VISIBILITY",
        "doc": "minimum mean MediaPipe visibility of heel and toe, per foot"})
    gate_min_height: float = field(default=0.40, metadata={"env": "LOOKBOT_GATE_MIN_HEIGHT",
        "doc": "minimum mean eye-to-heel vertical distance, as a fraction of image height"})
    gate_margin: float = field(default=0.0, metadata={"env": "LOOKBOT_GATE_MARGIN",
        "doc": "how far inside the frame (fraction of size) eyes and heels must lie"})
    max_image_pixels: int = field(default=40_000_000, metadata={"env": "LOOKBOT_MAX_IMAGE_PIXELS",
        "doc": "larger images are refused as possible decompression bombs"})
    max_image_bytes: int = field(default=20_000_000, metadata={"env": "LOOKBOT_MAX_IMAGE_BYTES",
        "doc": "larger files are refused before decoding"})
    work_side: int = field(default=1024, metadata={"env": "LOOKBOT_WORK_SIDE",
        "doc": "photos are downscaled so their longer side is at most this many pixels"})
    k: int = field(default=5, metadata={"env": "LOOKBOT_K", "doc": "products per article"})
    annoy_trees: int = field(default=50, metadata={"env": "LOOKBOT_ANNOY_TREES",
        "doc": "trees per Annoy index; more trees, better recall, bigger files"})
    rerank_weight: float = field(default=0.5, metadata={"env": "LOOKBOT_RERANK_WEIGHT",
        "doc": "weight of the neighbourhood's label vote when re-ranking results; 0 switches it off"})
    search_k_factor: int = field(default=20, metadata={"env": "LOOKBOT_SEARCH_K_FACTOR",
        "doc": "Annoy search_k = k * trees * this factor"})

    # --- catalog crawler (scraper/) and its nightly refresh ---
    selenium_url: str = field(default="", metadata={"env": "LOOKBOT_SELENIUM_URL",
        "doc": "Selenium Grid URL for the crawl; empty: local headless Chromium"})
    crawl_delay: float = field(default=2.0, metadata={"env": "LOOKBOT_CRAWL_DELAY",
        "doc": "seconds to wait between two page loads of the crawl"})
    crawl_max_pages: int = field(default=5, metadata={"env": "LOOKBOT_CRAWL_MAX_PAGES",
        "doc": "most listing pages crawled per category URL"})
    crawl_user_agent: str = field(default=(
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/150.0.0.0 Safari/537.36"), metadata={"env": "LOOKBOT_USER_AGENT",
        "doc": "User-Agent of the crawler's browser and image downloads"})
    crawl_hosts: str = field(default="www.myntra.com,assets.myntassets.com",
        metadata={"env": "LOOKBOT_CRAWL_HOSTS",
                  "doc": "comma-separated hosts the crawler may fetch; any other URL is skipped"})
    crawl_image_max_bytes: int = field(default=5_000_000, metadata={
        "env": "LOOKBOT_CRAWL_IMAGE_MAX_BYTES", "doc": "product images larger than this are refused"})
    crawl_image_workers: int = field(default=8, metadata={"env": "LOOKBOT_CRAWL_IMAGE_WORKERS",
        "doc": "concurrent product image downloads"})
    crawl_page_timeout: float = field(default=30.0, metadata={"env": "LOOKBOT_CRAWL_PAGE_TIMEOUT",
        "doc": "seconds a listing page (or an image) may take to load"})
    crawl_time: str = field(default="02:30", metadata={"env": "LOOKBOT_CRAWL_TIME",
        "doc": "nightly crawl + index time, HH:MM in LOOKBOT_TZ"})
    tz: str = field(default="Asia/Kolkata", metadata={"env": "LOOKBOT_TZ",
        "doc": "time zone of LOOKBOT_CRAWL_TIME"})

    # --- Telegram bot (bot/); the token itself is read from TELEGRAM_BOT_TOKEN, never stored here ---
    telegram_base_url: str = field(default="https://api.telegram.org/bot", metadata={
        "env": "LOOKBOT_TELEGRAM_BASE_URL",
        "doc": "Bot API URL the token is appended to (a local Bot API server, or a test fake)"})
    telegram_base_file_url: str = field(default="https://api.telegram.org/file/bot", metadata={
        "env": "LOOKBOT_TELEGRAM_BASE_FILE_URL", "doc": "Bot API file download URL"})
    admin_ids: str = field(default="", metadata={"env": "LOOKBOT_ADMIN_IDS",
        "doc": "comma-separated Telegram user ids allowed to use /stats and /crawl"})
    webhook_url: str = field(default="", metadata={"env": "LOOKBOT_WEBHOOK_URL",
        "doc": "public HTTPS URL for webhook mode; empty: long polling"})
    webhook_listen: str = field(default="0.0.0.0", metadata={"env": "LOOKBOT_WEBHOOK_LISTEN",
        "doc": "address the webhook server binds to"})
    webhook_port: int = field(default=8443, metadata={"env": "LOOKBOT_WEBHOOK_PORT",
        "doc": "port the webhook server listens on (behind your proxy)"})
    bot_workers: int = field(default=0, metadata={"env": "LOOKBOT_WORKERS",
        "doc": "photos processed at once; 0: one per CPU core"})
    bot_queue_size: int = field(default=8, metadata={"env": "LOOKBOT_QUEUE_SIZE",
        "doc": "photos that may wait for a worker; beyond this users are told to retry"})
    bot_max_download_bytes: int = field(default=20_000_000, metadata={
        "env": "LOOKBOT_MAX_DOWNLOAD_BYTES", "doc": "larger photos are refused before download"})
    bot_db: str = field(default="", metadata={"env": "LOOKBOT_BOT_DB",
        "doc": "per-user settings and counters; empty: bot.db in LOOKBOT_DATA_DIR"})
    bot_draw_boxes: bool = field(default=True, metadata={"env": "LOOKBOT_DRAW_BOXES",
        "doc": "send the photo back with the detected articles boxed (1/0)"})

    @classmethod
    def from_env(cls, **overrides) -> "Config":
        """Build a Config from `os.environ`, then apply keyword overrides."""
        values = {}
        for f in fields(cls):
            env = f.metadata.get("env")
            if env is None or env not in os.environ or os.environ[env] == "":
                continue
            raw = os.environ[env]
            if f.type in ("Path", Path):
                values[f.name] = Path(raw).expanduser()
            elif f.type in ("bool", bool):
                values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            elif f.type in ("int", int):
                values[f.name] = int(raw)
            elif f.type in ("float", float):
                values[f.name] = float(raw)
            else:
                values[f.name] = raw
        values.update(overrides)
        return cls(**values)

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.db"

    @property
    def images_dir(self) -> Path:
        return self.data_dir / "images"

    @property
    def index_root(self) -> Path:
        return self.data_dir / "index"


def documented_settings() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for every setting, for the README and `lookbot config`."""
    out = []
    for f in fields(Config):
        default = f.default
        if isinstance(default, Path):
            try:
                default = default.relative_to(REPO_ROOT)
            except ValueError:
                pass
        out.append((f.metadata["env"], str(default), f.metadata["doc"]))
    return out
