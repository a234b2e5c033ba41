"""The commands that make the models in data/models: detectors, the embedding head, the backbone."""
from __future__ import annotations

from pathlib import Path

import click

from .common import config, echo_json, invocation, json_flag, out_path

workers_option = click.option("--workers", type=int, default=2, show_default=True,
                              help="dataloader processes")


@click.command("train-detector")
@click.option("--epochs", type=int, default=80, show_default=True)
@click.option("--imgsz", type=int, default=384, show_default=True)
@click.option("--device", default="cpu", show_default=True, help="cpu, or a CUDA device such as 0")
@click.option("--model", default="yolov8n.yaml", show_default=True,
              help="ultralytics architecture YAML")
@click.option("--batch", type=int, default=16, show_default=True)
@click.option("--limit", type=int, default=None, help="train photos (smoke runs)")
@out_path
@click.option("--init", type=click.Path(path_type=Path), default=None, metavar="WEIGHTS",
              help="start from an earlier detector.pt (fine-tuning stage with a fresh schedule)")
@click.option("--lr0", type=float, default=None,
              help="initial learning rate (ultralytics' default 0.01; lower it with --init)")
@workers_option
@click.option("--hours", type=float, default=None,
              help="wall-time budget: ultralytics fits the epoch count to it")
def train_detector(epochs, imgsz, device, model, batch, limit, out, init, lr0, workers, hours):
    """Train the YOLO fashion detector on the CCP photos (no early stop: the cosine schedule
    runs to its end)."""
    from training.detector_training import train_detector as train

    echo_json(train(epochs=epochs, imgsz=imgsz, device=device, model=model, out_dir=out,
                    limit=limit, batch=batch, init=init, workers=workers, hours=hours, lr0=lr0),
              indent=2)
    return 0


@click.command("train-segmenter")
@click.option("--epochs", type=int, default=30, show_default=True)
@click.option("--imgsz", type=int, default=384, show_default=True)
@click.option("--init", default="data/models/detector.pt", show_default=True, metavar="WEIGHTS",
              help="detector whose backbone, neck and box head start the run ('' for none)")
@click.option("--batch", type=int, default=16, show_default=True)
@click.option("--workers", type=int, default=1, show_default=True, help="dataloader processes")
@click.option("--hours", type=float, default=None,
              help="wall-time budget: ultralytics fits the epoch count to it")
@click.option("--limit", type=int, default=None, help="train photos (smoke runs)")
@out_path
def train_segmenter(epochs, imgsz, init, batch, workers, hours, limit, out):
    """Train the garment segmenter (YOLOv8n-seg) on CCP's pixel masks."""
    from training.segmenter_training import train_segmenter as train

    echo_json(train(epochs=epochs, imgsz=imgsz, init=Path(init) if init else None, out_dir=out,
                    batch=batch, workers=workers, hours=hours, limit=limit), indent=2)
    return 0


@click.command("average-detectors")
@click.argument("weights", nargs=-1, required=True, type=click.Path(path_type=Path))
@out_path
@click.option("--imgsz", type=int, default=None, help="default: the first detector's size")
def average_detectors(weights, out, imgsz):
    """Average the weights of detector stages of one lineage (a model soup) and validate it.

    WEIGHTS are two or more detector.pt files of one architecture."""
    from training.detector_soup import average_detectors as average

    echo_json(average(list(weights), out_dir=out, imgsz=imgsz), indent=2)
    return 0


@click.command("train-embedding")
@click.option("--epochs", type=int, default=60, show_default=True)
@click.option("--views", type=int, default=3, show_default=True,
              help="street-like views per catalog image")
@click.option("--colour-weight", type=float, default=0.35, show_default=True,
              help="weight of the colour histogram appended to the head's output")
@click.option("--subset", type=int, default=None, help="train items (smoke runs)")
@click.option("--cached-only", is_flag=True, help="extract no new augmented views")
@click.option("--no-street", is_flag=True, help="skip the street-to-shop check")
@click.option("--threads", type=int, default=None,
              help="torch threads (default: torch's; 1 is fastest for this small MLP on a shared CPU)")
@out_path
@json_flag
def train_embedding(epochs, views, colour_weight, subset, cached_only, no_street, threads, out,
                    as_json):
    """Train the fashion embedding head on the catalog's labels and print before/after figures."""
    from training.head_training import format_report, train_embedding as train

    report = train(config(), out=out, epochs=epochs, views=views, subset=subset,
                   colour_weight=colour_weight, extract=not cached_only, street=not no_street,
                   threads=threads, progress=not as_json, command=invocation())
    echo_json(report, indent=2) if as_json else click.echo(format_report(report))
    return 0


@click.command("bench-head")
@click.option("--photos", type=click.Path(path_type=Path), default=None,
              help="folder of full-shot photos (default: the shared people/fullshot)")
@click.option("--n", "n_photos", type=int, default=12, show_default=True, help="photos timed")
def bench_head(photos, n_photos):
    """What the embedding head costs per photo: latency with and without it, in one process."""
    from training.head_bench import bench_head as bench

    echo_json(bench(config(), photos_dir=photos, n_photos=n_photos), indent=1)
    return 0


@click.command("train-street")
@click.option("--l2", type=float, default=3e-3, show_default=True,
              help="L2 penalty of the wearer models (the type and colour models have their own)")
@click.option("--limit", type=int, default=None, help="train photos (smoke runs)")
def train_street(l2, limit):
    """Train the street model (the wearer's gender, each garment's type and colour) on CCP
    train photos; writes data/models/street_model.pt and street_report.json."""
    from training.street_training import train_street as train

    echo_json(train(config(), l2=l2, limit=limit), indent=2)
    return 0


@click.command("tune-backbone")
@click.option("--epochs", type=int, default=30, show_default=True)
@click.option("--lr", type=float, default=3e-4, show_default=True, help="backbone learning rate")
@click.option("--clean-share", type=float, default=0.3, show_default=True,
              help="share of clean catalog shots; the rest are street-like views")
@click.option("--device", default="cpu", show_default=True,
              help="cpu, or a CUDA device such as cuda:0")
@click.option("--minutes", type=float, default=None,
              help="wall-time budget: the epoch count shrinks after the first epoch to fit it")
@workers_option
@click.option("--subset", type=int, default=None, help="catalog items (smoke runs)")
@click.option("--init-weights", type=click.Path(path_type=Path), default=None, metavar="PTH",
              help="EfficientNet-Lite2 weights to start from (default: the bundled ImageNet ones)")
@out_path
def tune_backbone(epochs, lr, clean_share, device, minutes, workers, subset, init_weights, out):
    """Fine-tune the EfficientNet-Lite2 backbone on the catalog's labels (meant for a GPU)."""
    from training.backbone_tuning import TuneSettings, tune_backbone as tune

    echo_json(tune(config(), out=out, device=device,
                   settings=TuneSettings(epochs=epochs, lr=lr, clean_share=clean_share),
                   minutes=minutes, subset=subset, workers=workers, init_weights=init_weights,
                   command=invocation()), indent=2)
    return 0


COMMANDS = [train_detector, train_segmenter, average_detectors, train_embedding, bench_head,
            tune_backbone, train_street]
