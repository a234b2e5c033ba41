"""The trained YOLO fashion detector: training end to end, offline loading, real CCP photos, fusion rules."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.config import Config
from core.fusion import FusedDetector, box_iou, fuse, nms
from core.records import CATEGORIES, Detection, GateVerdict
from tests.helpers import shared

MODELS = Config.from_env().models_dir  # the committed data/models unless LOOKBOT_MODELS_DIR says otherwise
WEIGHTS = MODELS / "detector.pt"
REPORT = MODELS / "detector_report.json"
SPLIT = MODELS / "detector_split.json"


def _rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


# ---------------------------------------------------------------- labels and split

@pytest.mark.slow
def test_ccp_labels_split_dresses_and_keep_five_classes():
    from training.ccp_dataset import WAIST_FRACTION, load_ccp_labels, split_photos

    ccp = shared("ccp")
    photos = load_ccp_labels(ccp)
    assert len(photos) == 800
    cats = {c for p in photos.values() for c, _ in p.boxes}
    assert cats == set(CATEGORIES)  # dress is gone: split into topwear + bottomwear
    # 0005.jpg: a dress (y 205..618) under a vest; its lower part becomes a bottomwear box below the waist
    import csv

    shot = {r["image"]: r for r in csv.DictReader(open(ccp / "shot_heuristic.csv"))}["0005.jpg"]
    top, bottom = float(shot["person_top"]), float(shot["person_bottom"])
    waist = top + WAIST_FRACTION * (bottom - top)
    lower = [b for c, b in photos["0005.jpg"].boxes if c == "bottomwear"]
    assert len(lower) == 1 and lower[0][1] >= waist - 1 and lower[0][3] <= 619
    for p in photos.values():
        for _, (x1, y1, x2, y2) in p.boxes:
            assert 0 <= x1 < x2 <= p.width and 0 <= y1 < y2 <= p.height

    split = split_photos(photos, n_val=160, seed=0)
    assert (split["n_train"], split["n_val"]) == (640, 160)
    assert not set(split["train"]) & set(split["val"])
    assert split == split_photos(reversed(list(photos)), n_val=160, seed=0)  # order-independent, fixed seed
    assert split["val"] != split_photos(photos, n_val=160, seed=1)["val"]


def test_merge_overlapping_unions_layers_only():
    from training.ccp_dataset import merge_overlapping

    coat, blouse, far = (100, 100, 300, 500), (150, 120, 250, 300), (400, 100, 450, 150)
    assert merge_overlapping([coat, blouse, far]) == [coat, far]
    assert merge_overlapping([(0, 0, 10, 10), (8, 8, 20, 20)]) == [(0, 0, 10, 10), (8, 8, 20, 20)]


# ---------------------------------------------------------------- training end to end

@pytest.mark.slow
def test_train_detector_one_epoch_end_to_end(tmp_path, no_network):
    from training.ccp_dataset import SPLIT_FILE
    from training.detector_training import REPORT_FILE, train_detector
    from core.yolo import YoloDetector

    ccp = shared("ccp")
    report = train_detector(epochs=1, imgsz=128, device="cpu", model="yolov8n.yaml", out_dir=tmp_path,
                            ccp_dir=ccp, work_dir=tmp_path / "work", limit=12, batch=4, workers=0, cache=False)
    assert (tmp_path / "detector.pt").is_file()
    on_disk = json.loads((tmp_path / REPORT_FILE).read_text())
    assert on_disk == json.loads(json.dumps(report))
    assert report["epochs"] == 1 and report["imgsz"] == 128 and report["seconds"] > 0
    assert report["train_photos"] == 12 and report["split"]["n_val"] == 160
    for cls, m in report["per_class"].items():
        assert cls in CATEGORIES and 0.0 <= m["mAP50-95"] <= m["mAP50"] <= 1.0
    split = json.loads((tmp_path / SPLIT_FILE).read_text())
    assert len(split["train"]) == 640 and len(split["val"]) == 160
    labels = sorted((tmp_path / "work" / "labels" / "train").glob("*.txt"))
    assert len(labels) == 12
    rows = [line.split() for f in labels for line in f.read_text().splitlines()]
    assert rows and all(0 <= int(r[0]) < len(CATEGORIES) and all(0 < float(v) <= 1 for v in r[1:]) for r in rows)
    # the freshly trained (useless) weights still load and run
    det = YoloDetector(tmp_path / "detector.pt")
    assert isinstance(det.detect(_rgb(ccp / "photos" / split["val"][0])), list)


@pytest.mark.slow
def test_train_detector_init_starts_from_the_given_weights(tmp_path, no_network):
    import torch

    from training.detector_training import train_detector

    report = train_detector(epochs=1, imgsz=128, device="cpu", model="yolov8n.yaml", out_dir=tmp_path,
                            ccp_dir=shared("ccp"), work_dir=tmp_path / "work", limit=8, batch=4,
                            workers=0, cache=False, init=WEIGHTS,
                            extra={"lr0": 1e-9, "warmup_epochs": 0})
    assert report["init"]["weights"] == "detector.pt"
    assert report["init"]["report"]["command"] == json.loads(REPORT.read_text())["command"]
    assert "--init" in report["command"] and "--batch 4" in report["command"]

    def convs(path):
        model = torch.load(path, map_location="cpu", weights_only=False)["model"]
        return {k: v.float() for k, v in model.state_dict().items() if k.endswith("conv.weight")}

    before, after = convs(WEIGHTS), convs(tmp_path / "detector.pt")
    assert before.keys() == after.keys() and len(before) > 50
    # at a learning rate of 1e-9 the run ends where it started, on the committed weights (up to
    # float16 storage); a fresh yolov8n.yaml differs from them by far more than 0.01
    assert max(float((before[k] - after[k]).abs().max()) for k in before) < 0.01
    with pytest.raises(FileNotFoundError, match="--init"):
        train_detector(epochs=1, imgsz=64, out_dir=tmp_path / "x", ccp_dir=shared("ccp"),
                       work_dir=tmp_path / "work2", limit=4, init=tmp_path / "missing.pt")
    assert not (tmp_path / "x").exists(), "refused before converting or writing anything"


def test_train_detector_refuses_pt_weights(tmp_path):
    from training.detector_training import train_detector

    with pytest.raises(ValueError, match="YAML"):
        train_detector(epochs=1, imgsz=64, model="yolov8n.pt", out_dir=tmp_path)


# ---------------------------------------------------------------- committed weights

@pytest.fixture(scope="module")
def detector():
    from core.yolo import YoloDetector

    if not WEIGHTS.is_file():
        pytest.fail(f"committed detector weights missing: {WEIGHTS}")
    return YoloDetector(WEIGHTS)


def test_committed_weights_and_report(detector):
    report = json.loads(REPORT.read_text())
    assert detector.names == list(CATEGORIES)
    assert set(report["per_class"]) == set(CATEGORIES)
    assert report["imgsz"] == detector.imgsz
    split = json.loads(SPLIT.read_text())
    assert (len(split["train"]), len(split["val"])) == (report["split"]["n_train"], report["split"]["n_val"])
    assert WEIGHTS.stat().st_size < 20_000_000


@pytest.mark.slow
def test_committed_weights_load_and_run_offline(no_network):
    from core.yolo import YoloDetector

    det = YoloDetector(WEIGHTS)  # a fresh load with every socket refused
    img = _rgb(shared("ccp", "photos", "0001.jpg"))
    dets = det.detect(img)
    assert dets and all(d.source == "yolo" and d.category in CATEGORIES and d.score >= 0.01 for d in dets)


def test_detector_rejects_bad_input(detector):
    with pytest.raises(ValueError):
        detector.detect(np.zeros((10, 10), dtype=np.uint8))


def test_missing_weights_is_a_clear_error(tmp_path):
    from core.yolo import DetectorUnavailable, YoloDetector

    with pytest.raises(DetectorUnavailable, match="train-detector"):
        YoloDetector(tmp_path / "nope.pt")


@pytest.mark.slow
@pytest.mark.parametrize("which", ["detector.pt", "shipped ensemble"])
def test_detections_overlap_labels_on_unseen_ccp_photos(which, detector):
    """On validation photos (never trained on), big-class labels are found with IoU >= 0.5."""
    from training.ccp_dataset import load_ccp_labels
    from core.detect import build_trained_detector

    if which != "detector.pt":
        detector = build_trained_detector(Config.from_env())
    ccp = shared("ccp")
    photos = load_ccp_labels(ccp)
    val = json.loads(SPLIT.read_text())["val"][:8]
    found = {c: [0, 0] for c in ("topwear", "bottomwear", "footwear")}
    for name in val:
        img = _rgb(ccp / "photos" / name)
        dets = [d for d in detector.detect(img) if d.score >= 0.25]
        for d in dets:  # boxes are in input pixels
            assert 0 <= d.box[0] < d.box[2] <= img.shape[1] and 0 <= d.box[1] < d.box[3] <= img.shape[0]
        for cat, box in photos[name].boxes:
            if cat in found:
                found[cat][1] += 1
                found[cat][0] += any(d.category == cat and box_iou(d.box, box) >= 0.5 for d in dets)
    # detector.pt found 7/8 topwear, 7/8 bottomwear, 8/13 shoes here (small shoes are the hard part);
    # the shipped ensemble 8/8, 7/8, 8/13
    floor = {"topwear": 0.75, "bottomwear": 0.75, "footwear": 0.5}
    for cat, (hit, total) in found.items():
        assert total >= 4, cat
        assert hit / total >= floor[cat], f"{cat}: {hit}/{total} labelled boxes found"


@pytest.mark.slow
def test_detector_boxes_follow_image_scale(detector):
    """Boxes come back in the pixels of the image passed in, whatever its size."""
    img = _rgb(shared("ccp", "photos", "0001.jpg"))
    half = np.asarray(Image.fromarray(img).resize((img.shape[1] // 2, img.shape[0] // 2)))
    big = max(detector.detect(img), key=lambda d: d.score)
    small = [d for d in detector.detect(half) if d.category == big.category]
    assert small
    scaled = tuple(v * 2 for v in max(small, key=lambda d: d.score).box)
    assert box_iou(big.box, scaled) >= 0.7


# ---------------------------------------------------------------- fusion rules

def Y(cat, box, score):
    return Detection(cat, box, score, "yolo")


def P(cat, box, score=0.5):
    return Detection(cat, box, score, "pose")


POSE = [P("topwear", (100, 100, 300, 400)), P("bottomwear", (110, 380, 290, 700)),
        P("footwear", (120, 700, 190, 760)), P("footwear", (210, 700, 280, 760))]


def test_detector_decides_and_pose_fills_missing_main_category_on_full_shot():
    yolo = [Y("topwear", (90, 110, 310, 420), 0.8), Y("footwear", (125, 705, 185, 755), 0.6),
            Y("handbag", (300, 400, 380, 520), 0.7)]
    out = fuse(yolo, POSE, full_shot=True, min_score=0.25)
    by = {(d.category, d.source) for d in out}
    assert ("topwear", "pose") not in by and ("footwear", "pose") not in by  # detector has them
    assert ("bottomwear", "pose") in by  # detector missed it: the pose region fills in
    assert ("handbag", "yolo") in by
    assert sum(d.category == "footwear" for d in out) == 1  # one yolo shoe: pose shoes are not added


def test_no_pose_fill_when_not_full_shot():
    out = fuse([Y("topwear", (90, 110, 310, 420), 0.8)], POSE, full_shot=False, min_score=0.25)
    assert [(d.category, d.source) for d in out] == [("topwear", "yolo")]


def test_pose_never_adds_eyewear_or_handbag():
    pose = POSE + [P("eyewear", (150, 40, 250, 70)), P("handbag", (300, 400, 380, 520))]
    out = fuse([], pose, full_shot=True, min_score=0.25)
    assert {d.category for d in out} == {"topwear", "bottomwear", "footwear"}
    assert all(d.source == "pose" for d in out)


def test_min_score_is_configurable_and_weak_detections_count_as_missed():
    yolo = [Y("topwear", (90, 110, 310, 420), 0.3), Y("eyewear", (150, 40, 250, 70), 0.2)]
    strict = fuse(yolo, POSE, full_shot=True, min_score=0.5)
    assert ("topwear", "pose") in {(d.category, d.source) for d in strict}
    assert "eyewear" not in {d.category for d in strict}
    loose = fuse(yolo, POSE, full_shot=True, min_score=0.1)
    assert ("topwear", "yolo") in {(d.category, d.source) for d in loose}
    assert ("topwear", "pose") not in {(d.category, d.source) for d in loose}
    assert "eyewear" in {d.category for d in loose}
    assert fuse(yolo, POSE, True, 0.1, pose_min_score=0.6) == [d for d in loose if d.source == "yolo"]


def test_nms_within_category_and_across_sources():
    a, b = Y("topwear", (100, 100, 300, 400), 0.9), Y("topwear", (105, 100, 300, 410), 0.6)
    far = Y("topwear", (400, 100, 500, 300), 0.4)
    assert nms([b, a, far], iou=0.5) == [a, far]
    assert len(nms([a, b], iou=0.99, cross_iou=None)) == 2  # thresholds are configurable
    # a pose region naming the same region as a detector box of another class is dropped,
    # even with a higher score; a detector box is never removed by a pose region
    yolo = [Y("handbag", (100, 100, 300, 400), 0.3)]
    pose = [P("topwear", (100, 100, 300, 401), 0.9)]
    out = fuse(yolo, pose, full_shot=True, min_score=0.25, cross_iou=0.9)
    assert [(d.category, d.source) for d in out] == [("handbag", "yolo")]
    out = fuse(yolo, pose, full_shot=True, min_score=0.25, cross_iou=None)
    assert {(d.category, d.source) for d in out} == {("handbag", "yolo"), ("topwear", "pose")}


def test_configured_fusion_keeps_both_shoes_of_a_pair_side_by_side():
    # feet together: the two shoe boxes overlap by IoU 0.54, and the detector's own NMS (0.6) kept both
    left, right = Y("footwear", (100, 700, 200, 760), 0.8), Y("footwear", (130, 700, 230, 760), 0.7)
    assert 0.5 < box_iou(left.box, right.box) < 0.6
    out = fuse([left, right], [], full_shot=True, min_score=0.25, iou=Config().fusion_iou)
    assert out == [left, right]


def test_fuse_caps_and_orders():
    yolo = [Y("footwear", (0, 0, 10, 10), 0.5), Y("footwear", (20, 0, 30, 10), 0.9),
            Y("footwear", (40, 0, 50, 10), 0.7), Y("topwear", (0, 20, 50, 80), 0.4)]
    out = fuse(yolo, [], full_shot=True, min_score=0.25, max_per_category=2)
    assert [(d.category, d.score) for d in out] == [("topwear", 0.4), ("footwear", 0.9), ("footwear", 0.7)]
    with pytest.raises(ValueError):
        fuse([Y("dress", (0, 0, 1, 1), 0.9)], [], True)


class _Fixed:
    def __init__(self, dets):
        self.dets = dets
        self.calls = 0

    def detect(self, image, verdict=None):
        self.calls += 1
        return list(self.dets)


def test_fused_detector_uses_gate_verdict_and_config():
    img = np.zeros((800, 500, 3), dtype=np.uint8)
    yolo = _Fixed([Y("topwear", (90, 110, 310, 420), 0.3)])
    pose = _Fixed(POSE)
    full = GateVerdict(True, "ok", "")
    det = FusedDetector(yolo, pose, Config.from_env(detector_score=0.25,
                                                    pose_fill="topwear,bottomwear"))
    out = det.detect(img, full)
    assert {(d.category, d.source) for d in out} >= {("topwear", "yolo"), ("bottomwear", "pose")}
    shipped = FusedDetector(yolo, pose, Config.from_env(detector_score=0.25))  # fills tops only
    assert {d.source for d in shipped.detect(img, full)} == {"yolo"}
    assert FusedDetector(yolo, pose, Config.from_env(detector_score=0.5)).detect(img, full)[0].source == "pose"
    calls = pose.calls
    out = det.detect(img, GateVerdict(False, "feet_out_of_frame", ""))
    assert [d.source for d in out] == ["yolo"] and pose.calls == calls
    assert [d.source for d in det.detect(img, None)] == ["yolo"]


def test_detector_boxes_off_the_person_are_dropped_on_full_shots():
    from core.fusion import inside_fraction, person_box

    img = np.zeros((1000, 800, 3), dtype=np.uint8)
    # a small person on the right: landmarks span x 500-600, y 400-950
    lms = [(500.0 + (i % 3) * 50, 400.0 + i * 16.5, 0.9) for i in range(34)][:33]
    person = person_box(lms)
    assert person[0] < 500 and person[2] > 600 and person[1] < 400 and person[3] > 950
    on_person = Y("bottomwear", (505, 700, 595, 900), 0.5)
    background = Y("topwear", (0, 0, 560, 640), 0.3)  # the trees behind a small person
    assert inside_fraction(on_person.box, person) == 1.0
    assert inside_fraction(background.box, person) < 0.3
    det = FusedDetector(_Fixed([on_person, background]), _Fixed(POSE), Config.from_env())
    out = det.detect(img, GateVerdict(True, "ok", "", lms))
    assert ("bottomwear", "yolo") in {(d.category, d.source) for d in out}
    assert ("topwear", "yolo") not in {(d.category, d.source) for d in out}
    # without landmarks (not a full shot) nothing is judged against the person
    out = det.detect(img, GateVerdict(False, "feet_out_of_frame", ""))
    assert {d.source for d in out} == {"yolo"} and len(out) == 2
    # a bag hanging beside the hip, 55% on the person: kept; a shoe box placed the same: dropped
    hip = (person[2] - 0.55 * 60, 780, person[2] + 0.45 * 60, 860)
    assert abs(inside_fraction(hip, person) - 0.55) < 1e-6
    det = FusedDetector(_Fixed([Y("handbag", hip, 0.7), Y("footwear", hip, 0.7)]), _Fixed(POSE),
                        Config.from_env())
    out = det.detect(img, GateVerdict(True, "ok", "", lms))
    assert ("handbag", "yolo") in {(d.category, d.source) for d in out}
    assert ("footwear", "yolo") not in {(d.category, d.source) for d in out}


# ---------------------------------------------------------------- averaged detectors

def test_average_checkpoints_takes_the_mean_and_refuses_other_layers():
    import copy

    import torch

    from training.detector_soup import average_checkpoints

    ck = torch.load(WEIGHTS, map_location="cpu", weights_only=False)
    zero = copy.deepcopy(ck)
    with torch.no_grad():
        for t in zero["model"].float().state_dict().values():
            if t.is_floating_point():
                t.zero_()
    dtype = next(ck["model"].parameters()).dtype
    soup = average_checkpoints([ck, zero])
    assert next(ck["model"].parameters()).dtype == dtype  # the inputs are not converted
    a = ck["model"].float().state_dict()
    b = soup["model"].float().state_dict()
    conv = [k for k in a if k.endswith("conv.weight")]
    assert len(conv) > 50
    assert max(float((b[k] - a[k] / 2).abs().max()) for k in conv) < 1e-2
    assert any(float(a[k].abs().max()) > 0.1 for k in conv)  # so "half" is not trivially "zero"
    assert soup["ema"] is None and soup["train_args"]["imgsz"] == ck["train_args"]["imgsz"]
    with pytest.raises(ValueError, match="other layers"):
        average_checkpoints([ck, {"model": torch.nn.Linear(2, 2)}])


@pytest.mark.slow
def test_average_detectors_writes_weights_and_report(tmp_path, no_network):
    from training.detector_soup import average_detectors
    from core.yolo import YoloDetector

    report = average_detectors([WEIGHTS, WEIGHTS], out_dir=tmp_path, ccp_dir=shared("ccp"),
                               work_dir=tmp_path / "work", limit=8, batch=4, workers=0)
    assert [s["report"]["command"] for s in report["averaged"]] == \
        [json.loads(REPORT.read_text())["command"]] * 2
    assert report["command"].startswith("lookbot average-detectors ")
    assert set(report["per_class"]) <= set(CATEGORIES) and report["val_photos"] == 2
    assert json.loads((tmp_path / "detector_report.json").read_text())["mAP50"] == report["mAP50"]
    det = YoloDetector(tmp_path / "detector.pt")  # the soup of a detector with itself is that detector
    img = _rgb(shared("ccp", "photos", "0001.jpg"))
    ref = YoloDetector(WEIGHTS).detect(img)
    got = det.detect(img)
    assert [d.category for d in got[:5]] == [d.category for d in ref[:5]]
    # another inference size is validated and stored, so the detector runs at the size measured
    report = average_detectors([WEIGHTS, WEIGHTS], out_dir=tmp_path / "s", imgsz=320,
                               ccp_dir=shared("ccp"), work_dir=tmp_path / "work", limit=8, batch=4,
                               workers=0)
    assert report["imgsz"] == 320 and "--imgsz 320" in report["command"]
    assert YoloDetector(tmp_path / "s" / "detector.pt").imgsz == 320
    with pytest.raises(FileNotFoundError):
        average_detectors([WEIGHTS, tmp_path / "missing.pt"], out_dir=tmp_path / "x")
    with pytest.raises(ValueError, match="two or more"):
        average_detectors([WEIGHTS], out_dir=tmp_path / "y")
