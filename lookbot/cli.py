"""`lookbot`: a thin command line over core/, bot/ and scraper/. Each command parses its
arguments, calls one library function, and prints the result."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

log = logging.getLogger("lookbot")

DEFAULT_PHOTO = Path(__file__).resolve().parent.parent / "data" / "examples" / "look.jpg"


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ chatter
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("YOLO_OFFLINE", "1")
    for noisy in ("httpx", "ultralytics", "PIL", "matplotlib", "absl"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _read(path: str) -> bytes:
    """File bytes; an unreadable path becomes empty bytes, which the engine reports clearly."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        log.warning("cannot read %s: %s", path, exc)
        return b""


def _options(args):
    from core.records import SearchOptions

    return SearchOptions(gender=args.gender, k=args.k, budget=getattr(args, "budget", None))


def _engine(load_index: bool = True):
    from core.pipeline import Engine

    return Engine(load_index=load_index)


def cmd_look(args) -> int:
    engine = _engine()
    photos = args.photos or [str(DEFAULT_PHOTO)]
    for i, path in enumerate(photos):
        data = _read(path)
        result = engine.look(data, photo=path, options=_options(args))
        if args.draw:
            from core.draw import draw_detections

            out = Path(args.draw)
            if len(photos) > 1:
                out = out.with_name(f"{out.stem}-{i + 1}{out.suffix}")
            if draw_detections(data, [a.detection for a in result.articles], out):
                log.info("drew %s", out)
        if args.json:
            print(json.dumps(result.to_json(), ensure_ascii=False), flush=True)
            continue
        print(f"{path}: {result.verdict.reason} - {result.verdict.message}")
        for a in result.articles:
            d = a.detection
            print(f"  {d.category:<10} {d.source:<4} {d.score:.2f} box="
                  f"{[round(v) for v in d.box]}")
            for p in a.products:
                print(f"      {p.distance:.3f}  {(p.brand or '-')[:18]:<18} {p.title[:48]:<48} "
                      f"{p.price_label:<16} {p.url}")
    return 0


def cmd_detect(args) -> int:
    engine = _engine(load_index=False)
    for path in args.photos:
        result = engine.detect(_read(path), photo=path)
        if args.json:
            print(json.dumps(result.to_json(), ensure_ascii=False), flush=True)
        else:
            print(f"{path}: {result.reason if result.reason != 'ok' else ''}")
            for d in result.detections:
                print(f"  {d.category:<10} {d.source:<4} {d.score:.3f} "
                      f"{[round(v) for v in d.box]}")
    return 0


def cmd_similar(args) -> int:
    engine = _engine()
    for path in args.images:
        result = engine.similar(_read(path), args.category, photo=path, options=_options(args))
        if args.json:
            print(json.dumps(result.to_json(), ensure_ascii=False), flush=True)
        else:
            print(f"{path}: {result.message or ''}")
            for p in result.products:
                print(f"      {p.distance:.3f}  {p.title[:60]:<60} {p.url}")
    return 0


def cmd_index(args) -> int:
    from core.config import Config
    from core.embed import Embedder
    from core.indexer import build_index

    config = Config.from_env()
    summary = build_index(config, Embedder.from_config(config),
                          progress=not args.quiet, keep_features=not args.drop_features,
                          keep_versions=args.keep)
    print(f"index {summary.version}: {summary.products} products ({summary.embedded} embedded, "
          f"{summary.reused} reused, {summary.skipped} skipped) with {summary.embedding} "
          f"in {summary.seconds:.1f} s")
    return 0


def cmd_build_demo(args) -> int:
    from core.config import Config
    from core.demo import build_demo_catalog

    config = Config.from_env()
    n = build_demo_catalog(Path(args.source), config.data_dir)
    print(f"demo catalog: {n} products in {config.catalog_path}; now run `lookbot index`")
    return 0


def cmd_bot(args) -> int:
    from bot.app import main as bot_main

    return bot_main()


def cmd_crawl(args) -> int:
    from core.config import Config
    from scraper.crawl import crawl

    summary = crawl(Config.from_env(), urls=args.url or None, max_pages=args.max_pages,
                    fetch_images=not args.no_images, progress=not args.json)
    print(json.dumps(summary.to_json(), default=str) if args.json else summary.format())
    return summary.exit_code


def cmd_train_detector(args) -> int:
    from training.detector_training import train_detector

    extra: dict = {"patience": 0} if args.no_early_stop else {}
    if args.lr0 is not None:
        extra.update(lr0=args.lr0, warmup_epochs=1)
    report = train_detector(epochs=args.epochs, imgsz=args.imgsz, device=args.device,
                            model=args.model, out_dir=Path(args.out) if args.out else None,
                            limit=args.limit, batch=args.batch, init=Path(args.init) if args.init else None,
                            workers=args.workers, hours=args.hours, extra=extra or None)
    print(json.dumps(report, indent=2, default=str))
    return 0


def cmd_train_segmenter(args) -> int:
    from training.segmenter_training import train_segmenter

    report = train_segmenter(epochs=args.epochs, imgsz=args.imgsz, init=Path(args.init) if args.init else None,
                             out_dir=Path(args.out) if args.out else None, batch=args.batch,
                             workers=args.workers, hours=args.hours, limit=args.limit)
    print(json.dumps(report, indent=2, default=str))
    return 0


def cmd_average_detectors(args) -> int:
    from training.detector_soup import average_detectors

    report = average_detectors([Path(w) for w in args.weights],
                               out_dir=Path(args.out) if args.out else None, imgsz=args.imgsz)
    print(json.dumps(report, indent=2, default=str))
    return 0


def cmd_train_embedding(args) -> int:
    from core.config import Config
    from training.head_training import format_report, train_embedding

    report = train_embedding(Config.from_env(), out=Path(args.out) if args.out else None,
                             epochs=args.epochs, views=args.views, subset=args.subset,
                             progress=not args.json, command=" ".join(["lookbot", *sys.argv[1:]]))
    print(json.dumps(report, indent=2, default=str) if args.json else format_report(report))
    return 0


def cmd_tune_backbone(args) -> int:
    from training.backbone_tuning import TuneSettings, tune_backbone
    from core.config import Config

    report = tune_backbone(Config.from_env(), out=Path(args.out) if args.out else None,
                           device=args.device, settings=TuneSettings(epochs=args.epochs, lr=args.lr,
                                                 clean_share=args.clean_share),
                           minutes=args.minutes, subset=args.subset, workers=args.workers,
                           init_weights=Path(args.init_weights) if args.init_weights else None,
                           command=" ".join(["lookbot", *sys.argv[1:]]))
    print(json.dumps(report, indent=2, default=str))
    return 0


def cmd_config(args) -> int:
    from core.config import Config, documented_settings

    Config.from_env()  # a bad value in the environment is reported, not listed as if fine
    for env, default, doc in documented_settings():
        print(f"{env:<28} {default:<24} {doc}")
    return 0


def cmd_eval(args) -> int:
    from core.config import Config
    from measure.evaluate import format_eval, run_eval

    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    report = run_eval(Config.from_env(), Path(args.out), people_dir=Path(args.people),
                      ccp_dir=Path(args.ccp), limit=args.limit, parts=parts)
    print(json.dumps(report, ensure_ascii=False) if args.json else format_eval(report))
    return 0


class _BotPoolAdapter:
    """The bot's asyncio WorkerPool behind submit()/shutdown(), for `lookbot bench`."""

    def __init__(self, workers: int):
        import asyncio
        import threading

        from bot.worker import WorkerPool

        self.pool = WorkerPool(workers=workers, queue_size=0)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def submit(self, fn, *args):
        import asyncio

        return asyncio.run_coroutine_threadsafe(self.pool.run(fn, *args), self.loop)

    def shutdown(self, wait: bool = True) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.pool.shutdown()
        self.loop.close()


def _int_list(text: str) -> list[int]:
    return [int(float(x)) for x in str(text).replace(" ", "").split(",") if x]


def cmd_bench(args) -> int:
    from measure.bench_report import format_bench
    from measure.benchmark import run_bench
    from core.config import Config

    try:
        from bot import cards
    except ImportError as exc:  # the bot's extras are missing: a plain thread pool stands in
        log.warning("bot worker pool unavailable (%s): using a ThreadPoolExecutor", exc)
        pool_factory = pool_name = cards_fn = None
    else:
        pool_factory, pool_name = _BotPoolAdapter, "bot.worker.WorkerPool"

        def cards_fn(result):
            return [cards.card(a.detection.category, a.products, "more")
                    for a in result.articles]
    concurrency = [c for group in args.concurrency or ["1,2,4,8"] for c in _int_list(group)]
    report = run_bench(Config.from_env(), Path(args.photos), concurrency,
                       _int_list(args.index_sizes), Path(args.out), limit=args.limit,
                       pool_factory=pool_factory, pool_name=pool_name, cards_fn=cards_fn,
                       parts=[x.strip() for x in args.parts.split(",") if x.strip()])
    print(json.dumps(report, ensure_ascii=False) if args.json else format_bench(report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lookbot", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    def search_args(p):
        p.add_argument("--gender", default="any", choices=["men", "women", "any"])
        p.add_argument("--k", type=int, default=5, help="products per article")
        p.add_argument("--budget", type=int, default=None, help="maximum price in rupees")
        p.add_argument("--json", action="store_true", help="one JSON line per photo")

    p = sub.add_parser("look", help="gate, detect and find products for outfit photos")
    p.add_argument("photos", nargs="*", help="photos (default: the bundled example)")
    search_args(p)
    p.add_argument("--draw", metavar="OUT.jpg", help="save the photo with boxes drawn")
    p.set_defaults(func=cmd_look)

    p = sub.add_parser("detect", help="raw fused detections, no gate, for measuring")
    p.add_argument("photos", nargs="+")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_detect)

    p = sub.add_parser("similar", help="products similar to photos of single articles")
    p.add_argument("images", nargs="+")
    p.add_argument("--category", required=True,
                   choices=["topwear", "bottomwear", "footwear", "eyewear", "handbag"])
    search_args(p)
    p.set_defaults(func=cmd_similar)

    p = sub.add_parser("index", help="embed new catalog images and publish a new index")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--drop-features", action="store_true",
                   help="drop raw backbone features afterwards (smaller shipped catalog)")
    p.add_argument("--keep", type=int, default=3, help="index versions kept on disk")
    p.set_defaults(func=cmd_index)

    from core.config import SHARED_CATALOG

    p = sub.add_parser("build-demo", help="(re)build the demo catalog from the Kaggle set")
    p.add_argument("--source", default=str(SHARED_CATALOG))
    p.set_defaults(func=cmd_build_demo)

    p = sub.add_parser("bot", help="run the Telegram bot (polling, or webhook with "
                                   "LOOKBOT_WEBHOOK_URL); needs TELEGRAM_BOT_TOKEN")
    p.set_defaults(func=cmd_bot)

    p = sub.add_parser("crawl", help="crawl Myntra listings into the catalog with Selenium")
    p.add_argument("--url", action="append", help="listing URL (repeatable; default: all)")
    p.add_argument("--max-pages", type=int, default=None, help="pages per listing")
    p.add_argument("--no-images", action="store_true", help="skip image downloads")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_crawl)

    p = sub.add_parser("train-detector", help="train the YOLO fashion detector on CCP photos")
    p.add_argument("--epochs", type=int, default=80)
    p.add_argument("--imgsz", type=int, default=384)
    p.add_argument("--device", default="cpu", help="cpu, or a CUDA device such as 0")
    p.add_argument("--model", default="yolov8n.yaml", help="ultralytics architecture YAML")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--limit", type=int, default=None, help="train photos (smoke runs)")
    p.add_argument("--out", default=None, help="output folder (default data/models)")
    p.add_argument("--no-early-stop", action="store_true")
    p.add_argument("--init", default=None, metavar="WEIGHTS",
                   help="start from an earlier detector.pt (fine-tuning stage with a fresh schedule)")
    p.add_argument("--lr0", type=float, default=None,
                   help="initial learning rate (ultralytics' default 0.01; lower it with --init)")
    p.add_argument("--workers", type=int, default=2, help="dataloader processes")
    p.add_argument("--hours", type=float, default=None,
                   help="wall-time budget: ultralytics fits the epoch count to it")
    p.set_defaults(func=cmd_train_detector)

    p = sub.add_parser("train-segmenter", help="train the garment segmenter (YOLOv8n-seg) on CCP's masks")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--imgsz", type=int, default=384)
    p.add_argument("--init", default="data/models/detector.pt", metavar="WEIGHTS",
                   help="detector whose backbone, neck and box head start the run ('' for none)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--workers", type=int, default=1, help="dataloader processes")
    p.add_argument("--hours", type=float, default=None,
                   help="wall-time budget: ultralytics fits the epoch count to it")
    p.add_argument("--limit", type=int, default=None, help="train photos (smoke runs)")
    p.add_argument("--out", default=None, help="output folder (default data/models)")
    p.set_defaults(func=cmd_train_segmenter)

    p = sub.add_parser("average-detectors",
                       help="average the weights of detector stages of one lineage (a model soup)")
    p.add_argument("weights", nargs="+", help="two or more detector.pt files of one architecture")
    p.add_argument("--out", default=None, help="output folder (default data/models)")
    p.add_argument("--imgsz", type=int, default=None, help="default: the first detector's size")
    p.set_defaults(func=cmd_average_detectors)

    from measure.eval_data import DEFAULT_CCP_DIR, DEFAULT_PEOPLE_DIR

    p = sub.add_parser("eval", help="measure gate, detector and retrieval quality on real data")
    p.add_argument("--json", action="store_true", help="all figures as one JSON object")
    p.add_argument("--out", default="runs/eval", help="folder for eval.json and the contact sheet")
    p.add_argument("--people", default=str(DEFAULT_PEOPLE_DIR), help="labelled people photos")
    p.add_argument("--ccp", default=str(DEFAULT_CCP_DIR), help="CCP photos, boxes and masks")
    p.add_argument("--limit", type=int, default=None, help="at most N items per set (quick run)")
    p.add_argument("--parts", default="gate,detector,catalog,street",
                   help="comma-separated subset of gate,detector,catalog,street")
    p.set_defaults(func=cmd_eval)

    from measure.benchmark import DEFAULT_PHOTOS

    p = sub.add_parser("bench", help="measure latency, throughput, index and memory figures")
    p.add_argument("--json", action="store_true", help="all figures as one JSON object")
    p.add_argument("--out", default="runs/bench", help="folder for bench.json and bench.png")
    p.add_argument("--photos", default=str(DEFAULT_PHOTOS), help="folder of full-shot photos")
    p.add_argument("--concurrency", action="append", metavar="N[,N...]",
                   help="worker counts to measure throughput at (repeat or list; default 1,2,4,8)")
    p.add_argument("--index-sizes", default="10000,100000",
                   help="Annoy sizes to measure, e.g. 10000,100000,1000000 (1M takes GBs and "
                        "many minutes)")
    p.add_argument("--limit", type=int, default=None, help="at most N photos (quick run)")
    p.add_argument("--parts", default="pipeline,throughput,embedding,index",
                   help="comma-separated subset of pipeline,throughput,embedding,index")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("train-embedding",
                       help="train the fashion embedding head on the catalog's labels")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--views", type=int, default=3, help="street-like views per catalog image")
    p.add_argument("--subset", type=int, default=None, help="train items (smoke runs)")
    p.add_argument("--out", default=None, help="head file (default data/models/embedding_head.pt)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_train_embedding)

    p = sub.add_parser("tune-backbone",
                       help="fine-tune the EfficientNet-Lite2 backbone on the catalog's labels (GPU)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--lr", type=float, default=3e-4, help="backbone learning rate")
    p.add_argument("--clean-share", type=float, default=0.3,
                   help="share of clean catalog shots; the rest are street-like views")
    p.add_argument("--device", default="cpu", help="cpu, or a CUDA device such as cuda:0")
    p.add_argument("--minutes", type=float, default=None,
                   help="wall-time budget: the epoch count shrinks after the first epoch to fit it")
    p.add_argument("--workers", type=int, default=2, help="dataloader processes")
    p.add_argument("--subset", type=int, default=None, help="catalog items (smoke runs)")
    p.add_argument("--init-weights", default=None, metavar="PTH",
                   help="EfficientNet-Lite2 weights to start from (default: the bundled ImageNet ones)")
    p.add_argument("--out", default=None, help="weights file (default data/models/backbone.pt)")
    p.set_defaults(func=cmd_tune_backbone)

    p = sub.add_parser("config", help="list the environment variables and their defaults")
    p.set_defaults(func=cmd_config)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one clear line for the user; the traceback only with -v
        from core.config import ConfigError
        from core.embed import EmbedderUnavailable
        from core.index import IndexMismatch

        if isinstance(exc, (ConfigError, EmbedderUnavailable, IndexMismatch, FileNotFoundError)):
            print(f"lookbot: {exc}", file=sys.stderr)
            return 2
        log.exception("lookbot %s failed", args.command)
        return 1


if __name__ == "__main__":
    sys.exit(main())
