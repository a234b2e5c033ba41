"""Configuration read from environment variables, typed, with documented defaults.

`Config()` (or `Config.from_env()`) reads every `LOOKBOT_*` variable, plus `TELEGRAM_BOT_TOKEN`;
keyword arguments override them. A bad value raises `ConfigError` naming the variable and the
values it accepts. This is the only module that reads `os.environ`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT / "data" / "demo"
MODELS_DIR = REPO_ROOT / "data" / "models"
DEFAULT_USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                      "Chrome/150.0.0.0 Safari/537.36")


class ConfigError(ValueError):
    """A setting's environment variable (or override) holds a value of the wrong kind."""


# What each pydantic error means in a user's words: the values a variable accepts.
ACCEPTED = {
    "bool_parsing": "1/0, true/false, yes/no or on/off",
    "bool_type": "1/0, true/false, yes/no or on/off",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "int_type": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
}


def setting(default: Any, env: str, doc: str, **constraints: Any) -> Any:
    """A field read from `env`, documented by `doc` (shown by `lookbot config` and the README)."""
    return Field(default, validation_alias=env, description=doc, **constraints)


class _Settings(BaseSettings):
    model_config = SettingsConfigDict(env_ignore_empty=True, populate_by_name=True, extra="ignore",
                                      case_sensitive=True)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError(explain(type(self), exc)) from None


class SharedPaths(_Settings):
    """The labelled data for training and measuring, read on its own at import time."""

    shared_data: Path = setting(REPO_ROOT.parent / "shared" / "data", "LOOKBOT_SHARED_DATA",
                                "labelled data for training and measuring (catalog/, ccp/, people/)")

    @field_validator("*", mode="after")
    @classmethod
    def _expand_home(cls, value: Any) -> Any:
        return value.expanduser() if isinstance(value, Path) else value


class Config(SharedPaths):
    """Every knob lookbot reads. Each field names its environment variable (its alias)."""

    data_dir: Path = setting(DEFAULT_DATA_DIR, "LOOKBOT_DATA_DIR",
                             "catalog.db, product images, embeddings and index versions")
    models_dir: Path = setting(MODELS_DIR, "LOOKBOT_MODELS_DIR", "trained detector and embedding head")
    backbone: Literal["efficientnet_lite2", "resnet50"] = setting(
        "efficientnet_lite2", "LOOKBOT_BACKBONE",
        "efficientnet_lite2 (bundled) or resnet50 (needs torch cache weights)")
    use_embedding_head: bool = setting(True, "LOOKBOT_EMBEDDING_HEAD",
        "use the trained fashion embedding head from models_dir when present (1/0)")
    use_tuned_backbone: bool = setting(True, "LOOKBOT_TUNED_BACKBONE",
        "use the fine-tuned EfficientNet-Lite2 weights (models_dir/backbone.pt) when present (1/0)")
    use_detector: bool = setting(True, "LOOKBOT_DETECTOR",
        "use the trained YOLO detector from models_dir when present (1/0)")
    detector_score: float = setting(0.25, "LOOKBOT_DETECTOR_SCORE",
        "minimum YOLO score for an article to be shown", ge=0, le=1)
    detector_class_scores: str = setting("footwear=0.35,eyewear=0.45,handbag=0.6",
        "LOOKBOT_DETECTOR_CLASS_SCORES",
        "per-class minimum YOLO score to show a box (category=score, comma-separated), over LOOKBOT_DETECTOR_SCORE: "
        "the lowest with shown precision 0.85 on the validation photos (eyewear under OpenVINO's bfloat16)",
        pattern=r"^\s*((topwear|bottomwear|footwear|eyewear|handbag)\s*=\s*(0(\.\d+)?|1(\.0+)?)"
                r"\s*(,\s*|$))*$")
    pose_fill: str = setting("topwear", "LOOKBOT_POSE_FILL",
        "categories a pose region shows when the detector shows none (comma-separated, or none): "
        "pose boxes for bottomwear and footwear lowered their shown precision",
        pattern=r"^\s*(none|((topwear|bottomwear|footwear)\s*(,\s*|$))*)\s*$")
    pose_score: float = setting(0.5, "LOOKBOT_POSE_SCORE",
        "score given to pose-guided fallback regions", ge=0, le=1)
    fusion_iou: float = setting(0.6, "LOOKBOT_FUSION_IOU",
        "NMS IoU within a category when fusing detector boxes and pose regions; the detector's "
        "own NMS IoU, since a stricter one drops the second shoe of a pair", ge=0, le=1)
    fusion_cross_iou: float = setting(0.9, "LOOKBOT_FUSION_CROSS_IOU",
        "NMS IoU across categories (same region named twice); 0 switches it off", ge=0, le=1)
    detector_imgsz: int = setting(0, "LOOKBOT_DETECTOR_IMGSZ",
        "YOLO inference size in pixels; 0 uses the size detector.pt was trained at", ge=0)
    detector_ensemble: str = setting("detector-576.pt", "LOOKBOT_DETECTOR_ENSEMBLE",
        "further detector weights in models_dir (comma-separated) whose boxes are merged with "
        "detector.pt's by weighted box fusion; none: detector.pt alone")
    detector_runtime: Literal["openvino-int8", "openvino", "onnx", "torch"] = setting("openvino", "LOOKBOT_DETECTOR_RUNTIME",
        "run the detectors' ONNX export (made once into models_dir/cache) with openvino (bfloat16 where the CPU has "
        "it: 0.6x onnx's time), openvino-int8 (int8 convolutions) or onnx, or run torch; each falls back to the next")
    blas_threads: int = setting(1, "LOOKBOT_BLAS_THREADS", "numpy's BLAS threads in the engine "
        "(threadpoolctl); idle ones spin on the models' cores; 0: as BLAS starts", ge=0)
    embedder_runtime: Literal["openvino-int8", "onnx-int8", "onnx", "torch"] = setting("onnx-int8",
        "LOOKBOT_EMBEDDER_RUNTIME", "run the embedding backbone's ONNX export quantized to int8 (once "
        "into models_dir/cache; cosine 0.995 to fp32) with onnx-int8 (ONNX Runtime: half the fp32 time) "
        "or openvino-int8 (0.85x that), or the fp32 export (onnx), or torch; openvino-int8 falls back to "
        "onnx-int8, onnx-int8 to onnx, onnx to torch; run `lookbot index` and train-street after switching")
    use_segmenter: bool = setting(False, "LOOKBOT_SEGMENTER",
        "cut each article out by the garment segmenter's mask (models_dir/segmenter.pt) for its "
        "embedding and colour (1/0); off by default: it costs about 10% of a look and moved no "
        "street figure beyond noise (docs/MEASUREMENTS.md)")
    segmenter_imgsz: int = setting(0, "LOOKBOT_SEGMENTER_IMGSZ",
        "segmenter inference size in pixels; 0 uses the size segmenter.pt was trained at", ge=0)
    segmenter_cut: Literal["white", "colour"] = setting("colour", "LOOKBOT_SEGMENTER_CUT",
        "colour: the embedded crop stays whole and the garment's mask picks the pixels of its colour; "
        "white: the crop is also whitened off the mask, like a catalog shot (street colour-family@5 "
        "+0.007 but type@5 -0.031: docs/MEASUREMENTS.md)")
    gate_runtime: Literal["openvino", "mediapipe"] = setting("openvino", "LOOKBOT_GATE_RUNTIME",
        "run the gate's MediaPipe pose models under openvino (core/blazepose.py: MediaPipe's steps, the same landmarks at about three quarters of the CPU time) or MediaPipe's graph (mediapipe, also the fallback)")
    gate_visibility: float = setting(0.5, "LOOKBOT_GATE_VISIBILITY", "minimum pose visibility of the eyes", ge=0, le=1)
    gate_foot_visibility: float = setting(0.4, "LOOKBOT_GATE_FOOT_VISIBILITY", "minimum mean pose visibility of heel and toe, per foot", ge=0, le=1)
    gate_min_height: float = setting(0.40, "LOOKBOT_GATE_MIN_HEIGHT",
        "minimum mean eye-to-heel vertical distance, as a fraction of image height", ge=0, le=1)
    gate_shoe_score: float = setting(0.25, "LOOKBOT_GATE_SHOE_SCORE",
        "minimum detector score of a footwear box that shows feet MediaPipe is unsure of",
        ge=0, le=1)
    gate_margin: float = setting(0.0, "LOOKBOT_GATE_MARGIN",
        "how far inside the frame (fraction of size) eyes and heels must lie", ge=0, le=0.5)
    max_image_pixels: int = setting(40_000_000, "LOOKBOT_MAX_IMAGE_PIXELS",
        "larger images are refused as possible decompression bombs, but a JPEG up to 3 times larger is decoded at 1/2, 1/4 or 1/8 scale to fit", gt=0)
    max_image_bytes: int = setting(20_000_000, "LOOKBOT_MAX_IMAGE_BYTES",
        "larger files are refused before decoding", gt=0)
    work_side: int = setting(1024, "LOOKBOT_WORK_SIDE",
        "photos are downscaled so their longer side is at most this many pixels", gt=0)
    k: int = setting(5, "LOOKBOT_K", "products per article", gt=0)
    annoy_trees: int = setting(50, "LOOKBOT_ANNOY_TREES",
        "trees per Annoy index; more trees, better recall, bigger files", gt=0)
    rerank_weight: float = setting(0.5, "LOOKBOT_RERANK_WEIGHT",
        "weight of the neighbourhood's label vote when re-ranking results; 0 switches it off", ge=0)
    search_k_factor: int = setting(20, "LOOKBOT_SEARCH_K_FACTOR",
        "Annoy search_k = k * trees * this factor", gt=0)
    use_street_model: bool = setting(True, "LOOKBOT_STREET_MODEL",
        "use the street model from models_dir (the wearer's gender, each garment's type and "
        "colour) when present (1/0)")

    # --- the engine as a service on Ray (core/service.py, core/remote.py) ---
    engine_url: str = setting("", "LOOKBOT_ENGINE_URL",
        "URL of a `lookbot serve` app the bot sends looks to; empty: the engine runs inside the "
        "bot process")
    engine_timeout: float = setting(60.0, "LOOKBOT_ENGINE_TIMEOUT",
        "seconds the bot waits for the engine service to answer one call", gt=0)
    serve_port: int = setting(8000, "LOOKBOT_SERVE_PORT", "HTTP port of `lookbot serve`",
                              gt=0, lt=65536)
    serve_min_replicas: int = setting(1, "LOOKBOT_SERVE_MIN_REPLICAS",
        "fewest engine replicas `lookbot serve` keeps (autoscaling's lower bound)", ge=1)
    serve_max_replicas: int = setting(1, "LOOKBOT_SERVE_MAX_REPLICAS",
        "most engine replicas; above the minimum, Ray Serve autoscales between the two", ge=1)
    serve_replica_cpus: float = setting(1.0, "LOOKBOT_SERVE_REPLICA_CPUS",
        "CPUs Ray reserves for each engine replica", gt=0)

    # --- catalog crawler (scraper/) and its nightly refresh ---
    selenium_url: str = setting("", "LOOKBOT_SELENIUM_URL",
        "Selenium Grid URL for the crawl; empty: local headless Chromium")
    crawl_delay: float = setting(2.0, "LOOKBOT_CRAWL_DELAY",
        "seconds to wait between two page loads of the crawl", ge=0)
    crawl_max_pages: int = setting(5, "LOOKBOT_CRAWL_MAX_PAGES",
        "most listing pages crawled per category URL", gt=0)
    crawl_user_agent: str = setting(DEFAULT_USER_AGENT, "LOOKBOT_USER_AGENT",
        "User-Agent of the crawler's browser and image downloads")
    crawl_hosts: str = setting("www.myntra.com,assets.myntassets.com", "LOOKBOT_CRAWL_HOSTS",
        "comma-separated hosts the crawler may fetch; any other URL is skipped")
    crawl_image_max_bytes: int = setting(5_000_000, "LOOKBOT_CRAWL_IMAGE_MAX_BYTES",
        "product images larger than this are refused", gt=0)
    crawl_image_workers: int = setting(8, "LOOKBOT_CRAWL_IMAGE_WORKERS",
        "concurrent product image downloads", gt=0)
    crawl_page_timeout: float = setting(30.0, "LOOKBOT_CRAWL_PAGE_TIMEOUT",
        "seconds a listing page (or an image) may take to load", gt=0)
    crawl_time: str = setting("02:30", "LOOKBOT_CRAWL_TIME",
        "nightly crawl + index time, HH:MM in LOOKBOT_TZ; off: no nightly refresh")
    tz: str = setting("Asia/Kolkata", "LOOKBOT_TZ", "time zone of LOOKBOT_CRAWL_TIME")

    # --- Telegram bot (bot/) ---
    telegram_bot_token: SecretStr = setting(SecretStr(""), "TELEGRAM_BOT_TOKEN",
        "the bot's token from @BotFather (secret: never logged)")
    webhook_secret: SecretStr = setting(SecretStr(""), "LOOKBOT_WEBHOOK_SECRET",
        "secret Telegram sends with every webhook update; empty: not checked (secret)")
    telegram_base_url: str = setting("https://api.telegram.org/bot", "LOOKBOT_TELEGRAM_BASE_URL",
        "Bot API URL the token is appended to (a local Bot API server, or a test fake)")
    telegram_base_file_url: str = setting("https://api.telegram.org/file/bot",
        "LOOKBOT_TELEGRAM_BASE_FILE_URL", "Bot API file download URL")
    admin_ids: str = setting("", "LOOKBOT_ADMIN_IDS",
        "comma-separated Telegram user ids allowed to use /stats and /crawl")
    webhook_url: str = setting("", "LOOKBOT_WEBHOOK_URL",
        "public HTTPS URL for webhook mode; empty: long polling")
    webhook_listen: str = setting("0.0.0.0", "LOOKBOT_WEBHOOK_LISTEN",
        "address the webhook server binds to")
    webhook_port: int = setting(8443, "LOOKBOT_WEBHOOK_PORT",
        "port the webhook server listens on (behind your proxy)", gt=0, lt=65536)
    bot_workers: int = setting(0, "LOOKBOT_WORKERS", "photos processed at once; 0: one per CPU "
        "core, or 8 with LOOKBOT_ENGINE_URL (the service's replicas do the work)", ge=0)
    bot_queue_size: int = setting(100, "LOOKBOT_QUEUE_SIZE",
        "photos of all users that may wait for a worker; beyond this users are told to retry", ge=0)
    bot_user_queue: int = setting(10, "LOOKBOT_USER_QUEUE",
        "photos of one user taken and not yet answered; beyond this they are asked to resend", ge=1)
    bot_max_download_bytes: int = setting(20_000_000, "LOOKBOT_MAX_DOWNLOAD_BYTES",
        "larger photos are refused before download", gt=0)
    bot_db: str = setting("", "LOOKBOT_BOT_DB",
        "per-user settings, counters, saved items, waiting alerts and the photos taken but not "
        "yet answered; empty: bot.db in LOOKBOT_DATA_DIR")
    alert_drop_percent: float = setting(5.0, "LOOKBOT_ALERT_DROP_PERCENT",
        "a saved item's price must fall this many percent below its price when saved (or at its "
        "last alert) for a price-drop alert", gt=0, lt=100)
    alert_quiet_hours: str = setting("22:00-08:00", "LOOKBOT_ALERT_QUIET_HOURS",
        "HH:MM-HH:MM in LOOKBOT_TZ when no alert is sent (they wait for the end); off: any time",
        pattern=r"^\s*(off|\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2})\s*$")
    alert_min_gap_hours: float = setting(12.0, "LOOKBOT_ALERT_MIN_GAP_HOURS",
        "at most one alert message per user in this many hours; later news waits, grouped", ge=0)
    bot_draw_boxes: bool = setting(True, "LOOKBOT_DRAW_BOXES",
        "send the photo back with the detected articles boxed (1/0)")

    @classmethod
    def from_env(cls, **overrides: Any) -> "Config":
        """Build a Config from the environment, then apply keyword overrides."""
        return cls(**overrides)

    def replace(self, **changes: Any) -> "Config":
        """A copy with `changes` applied and validated (as `dataclasses.replace` did)."""
        return type(self)(**{**self.model_dump(), **changes})

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.db"

    @property
    def images_dir(self) -> Path:
        return self.data_dir / "images"

    @property
    def index_root(self) -> Path:
        return self.data_dir / "index"

    def child_environment(self) -> dict[str, str]:
        """This process's environment for a subprocess that must use the same data directory."""
        return {**os.environ, "LOOKBOT_DATA_DIR": str(self.data_dir)}


def explain(model: type[BaseSettings], exc: ValidationError) -> str:
    """One line per bad setting: its variable, the value given and the values it accepts."""
    fields = model.model_fields
    by_alias = {f.validation_alias: name for name, f in fields.items()}
    lines = []
    for err in exc.errors():
        key = str(err["loc"][0]) if err["loc"] else "?"
        name = by_alias.get(key, key)
        env = fields[name].validation_alias if name in fields else key
        accepted = ACCEPTED.get(err["type"], err["msg"].removeprefix("Input should be "))
        if err["type"] == "string_pattern_mismatch":
            accepted = f"text matching {err['ctx']['pattern'].strip()}"
        if err["type"].startswith(("greater", "less")):
            accepted = "a value " + accepted
        lines.append(f"{env}={err.get('input')!r} is not valid: use {accepted}")
    return "; ".join(lines)


SHARED_DATA = SharedPaths().shared_data
SHARED_CATALOG = SHARED_DATA / "catalog"  # labelled Myntra product images (products.csv)
SHARED_CCP = SHARED_DATA / "ccp"  # street photos with garment boxes and masks
SHARED_PEOPLE = SHARED_DATA / "people"  # full-shot and not-full-shot photos, labelled
