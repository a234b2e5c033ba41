"""The look pipeline, top to bottom: decode → gate → detect → segment → embed → search.

`Engine` is the pure-Python API the CLI and the bot share: photo bytes and options in,
a `LookResult` out. It loads every model once and picks up new index versions by itself.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import Optional

import numpy as np
from PIL import Image

from .catalog import Catalog
from .colour import colour_features
from .config import Config
from .crops import CROP_MARGIN, articles_of, crop
from .cpu import InFlight, limit_blas_threads
from .detect import Detector, build_detector, scale_detections
from .embed import Embedder
from .garment_geometry import outfit_box
from .gate import GateThresholds, PoseGate
from .imageio import BAD_INPUT_MESSAGES, BadImage, Photo, decode
from .index import CatalogIndex, IndexMismatch, current_version, missing_index, normalise_gender
from .records import (Article, Detection, DetectResult, GateVerdict, LookResult, Product,
                      SearchOptions, SimilarResult)
from .regions import body_shape
from .rerank import LABELS, Candidate, rerank
from .segment import Segment, Segmenter, mask_for
from .outfit import read_outfit, wearer_boxes
from .street import ArticleHint, street_model_for

log = logging.getLogger(__name__)

# How many nearest products the neighbourhood vote may re-order (see core/rerank.py).
RERANK_WINDOW = 50
# With a street hint more candidates are read, so a sure type or colour still finds k products.
STREET_WINDOW = 400
# A photo to look at must be at least this long on its longer side: below it a full-body shot
# leaves each garment a few dozen pixels, too few to tell its kind or the wearer (at 120 px a
# man was read as a woman with confidence), so the user is asked for a bigger one instead.
MIN_LOOK_SIDE = 240
RANK_COLUMNS = (*LABELS, "active", "price")  # the catalog columns a search ranks and filters by


class Engine:
    """Models, catalog and index, loaded once; safe to call from several worker threads."""

    def __init__(self, config: Optional[Config] = None, load_index: bool = True):
        self.config = config or Config.from_env()
        c = self.config
        if load_index and current_version(c.index_root) is None:  # before any model or file
            raise FileNotFoundError(missing_index(c))
        limit_blas_threads(c.blas_threads)
        self.gate = PoseGate(GateThresholds(
            visibility=c.gate_visibility, foot_visibility=c.gate_foot_visibility,
            min_height=c.gate_min_height, margin=c.gate_margin), runtime=c.gate_runtime)
        self.shoe_score = c.gate_shoe_score
        self.detector: Detector = build_detector(c)
        self.segmenter: Optional[Segmenter] = Segmenter.from_config(c)
        self.embedder = Embedder.from_config(c, lean=True)
        self.catalog = Catalog(c.catalog_path, c.data_dir)
        self.street = street_model_for(self.config, self.embedder)
        self._detector_lock = threading.Lock()
        self._index_lock = threading.Lock()
        self.looks = InFlight()  # looks in progress: when several are, the embedder keeps to one thread
        self.index: Optional[CatalogIndex] = None
        if load_index:
            self.index = self._load_index()

    @property
    def embedding_version(self) -> str:
        """What the vectors of looks are, for callers that hold them (core.remote has it too)."""
        return self.embedder.version

    # --- index lifecycle ----------------------------------------------------------------
    def _load_index(self, version: Optional[str] = None) -> CatalogIndex:
        index = CatalogIndex(self.config.index_root, version,
                             search_k_factor=self.config.search_k_factor)
        if index.embedding != self.embedder.version:
            raise IndexMismatch(
                f"the index in {self.config.index_root} was built with {index.embedding!r} "
                f"but this engine embeds with {self.embedder.version!r}: run `lookbot index`")
        log.info("loaded index %s (%d products)", index.version, len(index))
        return index

    def reload_if_changed(self) -> bool:
        """Switch to a newer index version if `lookbot index` published one."""
        latest = current_version(self.config.index_root)
        if latest is None or (self.index is not None and latest == self.index.version):
            return False
        with self._index_lock:
            if self.index is not None and latest == self.index.version:
                return False
            try:
                self.index = self._load_index(latest)
            except (IndexMismatch, FileNotFoundError, OSError) as exc:
                log.error("keeping index %s: %s", self.index and self.index.version, exc)
                return False
        return True

    # --- stages -------------------------------------------------------------------------
    def decode(self, data: bytes) -> Photo:
        c = self.config
        return decode(data, max_bytes=c.max_image_bytes, max_pixels=c.max_image_pixels,
                      work_side=c.work_side)

    def check_gate(self, photo: Photo) -> tuple[GateVerdict, Optional[list[Detection]]]:
        """The gate's verdict, and the detector's raw boxes when it had to run to reach it.

        The detector runs here only when the gate's one doubt is feet MediaPipe cannot see but
        places in frame; its footwear boxes settle it, and `detect_photo` reuses its boxes.
        """
        verdict = self.gate.check(photo.rgb)
        if verdict.reason != "feet_unsure":
            return verdict, None
        trained = getattr(self.detector, "yolo", None)  # None: pose regions only, no shoe boxes
        raw: list[Detection] = []
        if trained is not None:
            with self._detector_lock:
                raw = trained.detect(photo.rgb, None)
        shoes = [d.box for d in raw if d.category == "footwear" and d.score >= self.shoe_score]
        h, w = photo.rgb.shape[:2]
        return (self.gate.judge(verdict.landmarks, w, h, shoes=shoes, people=verdict.people),
                raw if trained is not None else None)

    def detect_photo(self, photo: Photo, verdict: Optional[GateVerdict],
                     min_score: Optional[float] = None,
                     raw: Optional[list[Detection]] = None) -> list[Detection]:
        """`raw`: the trained detector's boxes when `check_gate` already ran it on this photo."""
        with self._detector_lock:
            if raw is not None and hasattr(self.detector, "yolo"):
                return self.detector.detect(photo.rgb, verdict, min_score=min_score, raw=raw)
            return self.detector.detect(photo.rgb, verdict, min_score=min_score)

    def segment_photo(self, photo: Photo) -> list[Segment]:
        """The garments' masks in work pixels (none without a segmenter)."""
        if self.segmenter is None:  # not behind the lock: a look without one never waits there
            return []
        with self._detector_lock:  # one model run at a time, as the detector's: ONNX threads share the cores
            return self.segmenter.segment(photo.rgb)

    def search(self, vector: np.ndarray, category: str, options: SearchOptions,
               exclude: tuple[str, ...] = (), hint: Optional[ArticleHint] = None
               ) -> list[Product]:
        """Products of `category` nearest to `vector`, honouring gender, budget and paging,
        ordered by the street model's `hint` when given (gender auto without a photo: any)."""
        self.reload_if_changed()
        index = self.index
        if index is None:
            raise FileNotFoundError("no catalog index loaded: run `lookbot index` first")
        gender = normalise_gender("any" if options.gender == "auto" else options.gender)
        want = options.offset + options.k
        window = RERANK_WINDOW if self.config.rerank_weight > 0 else 0
        window = STREET_WINDOW if hint is not None else window
        n = max(want * 3 + 10, window)
        while True:
            hits = index.query(vector, category, gender, n=n, embedding=self.embedder.version,
                               exclude=exclude)
            # only what ranking and filtering read: whole rows of hundreds of candidates cost more
            rows = self.catalog.get_many_cached([h.product_id for h in hits], RANK_COLUMNS)
            ranked = rerank([Candidate(h.product_id, h.distance, rows.get(h.product_id) or {})
                             for h in hits], weight=self.config.rerank_weight, window=window,
                            hint=hint)  # a row holds the LABELS the vote reads
            chosen = []
            for cand in ranked:
                row = rows.get(cand.key)
                if row is None or not row.get("active", 1):
                    continue
                if options.budget is not None and row.get("price") is not None \
                        and row["price"] > options.budget:
                    continue
                chosen.append(cand)
                if len(chosen) >= want:
                    break
            if len(chosen) >= want or len(hits) < n or n >= 5000:
                shown = chosen[options.offset:want]
                full = self.catalog.get_many([c.key for c in shown])
                return [self.catalog.to_product(full[c.key], c.distance) for c in shown
                        if c.key in full]
            n *= 4

    # --- whole flows --------------------------------------------------------------------
    def look(self, data: bytes, photo: str = "photo", options: Optional[SearchOptions] = None
             ) -> LookResult:
        """Gate, detect, embed and search one photo; bad input becomes a verdict, not an error."""
        with self.looks:
            return self._look(data, photo, options or SearchOptions(k=self.config.k))

    def _look(self, data: bytes, photo: str, options: SearchOptions) -> LookResult:
        timings: dict[str, float] = {}
        t = time.perf_counter()
        try:
            image = self.decode(data)
        except BadImage as exc:  # not looked at: no one was seen
            return LookResult(photo, GateVerdict(False, exc.reason, exc.message, people=0))
        if max(image.width, image.height) < MIN_LOOK_SIDE:
            log.info("photo %s refused: %dx%d is too small to look at", photo, image.width,
                     image.height)
            return LookResult(photo, GateVerdict(False, "image_too_small",
                                                 BAD_INPUT_MESSAGES["image_too_small"], people=0))
        timings["decode"] = time.perf_counter() - t

        t = time.perf_counter()
        verdict, raw = self.check_gate(image)
        timings["gate"] = time.perf_counter() - t
        result = LookResult(photo, verdict, width=image.width, height=image.height,
                            timings=timings)
        if not verdict.full_shot:
            return result

        t = time.perf_counter()
        groups = articles_of(self.detect_photo(image, verdict, raw=raw))
        timings["detect"] = time.perf_counter() - t

        t = time.perf_counter()
        segments = self.segment_photo(image) if groups else []
        timings["segment"] = time.perf_counter() - t

        t = time.perf_counter()
        crops, owners = [], []
        for gi, group in enumerate(groups):
            for det in group:
                crops.append(crop(image, det.box, mask=mask_for(segments, det.category, det.box),
                                  whiten=self.config.segmenter_cut == "white"))
                owners.append(gi)
        people = wearer_boxes(self.street, image.rgb.shape, verdict.landmarks,
                              [d.box for g in groups for d in g])
        crops += [crop(image, box, margin=0.0 if part == "head" else CROP_MARGIN)
                  for part, box in people.items()]  # as training/street_data.py cuts them
        feats = self.embedder.backbone_features(crops, lean=self.looks.busy)
        colour = colour_features(crops[:len(owners)])
        vectors = self.embedder.from_features(feats[:len(owners)], colour=colour)
        extra = dict(zip(people, feats[len(owners):]))
        result.gender, result.gender_source, call, hints = read_outfit(
            self.street, [g[0].category for g in groups], [[d.box for d in g] for g in groups],
            owners, feats[:len(owners)], colour, extra, body_shape(verdict.landmarks),
            options.gender)
        result.wearer = call.to_json() if call is not None else None
        timings["embed"] = time.perf_counter() - t

        t = time.perf_counter()
        search_options = replace(options, gender=result.gender)
        for gi, group in enumerate(groups):
            vec = vectors[[i for i, o in enumerate(owners) if o == gi]].mean(axis=0)
            vec = vec / max(float(np.linalg.norm(vec)), 1e-12)
            best = group[0]
            box = outfit_box([d.box for d in group])
            det = scale_detections([Detection(best.category, box, best.score, best.source)],
                                   image.scale, image.width, image.height)[0]
            products = self.search(vec, det.category, search_options, hint=hints[gi])
            result.articles.append(Article(det, products, vec, hints[gi]))
        timings["search"] = time.perf_counter() - t
        return result

    def detect(self, data: bytes, photo: str = "photo") -> DetectResult:
        """Raw detections (score ≥ 0.01), no gate verdict applied, in input-photo pixels."""
        try:
            image = self.decode(data)
        except BadImage as exc:
            return DetectResult(photo, exc.reason, exc.message)
        verdict, raw = self.check_gate(image)
        dets = [d for d in self.detect_photo(image, verdict, min_score=0.01, raw=raw)
                if d.score >= 0.01]
        dets = scale_detections(dets, image.scale, image.width, image.height)
        return DetectResult(photo, "ok", "", sorted(dets, key=lambda d: -d.score))

    def similar(self, data: bytes, category: str, photo: str = "photo",
                options: Optional[SearchOptions] = None) -> SimilarResult:
        """Products like the article in a photo of that article alone (no gate, no detector)."""
        options = options or SearchOptions(k=self.config.k)
        try:
            image = self.decode(data)
        except BadImage as exc:
            return SimilarResult(photo, exc.reason, exc.message)
        vec = self.embedder.embed([Image.fromarray(image.rgb)])[0]
        return SimilarResult(photo, "ok", "", self.search(vec, category, options))

    def stats(self) -> dict:
        index = self.index
        return {"catalog": self.catalog.count_by_category(),
                "priced": list(self.catalog.priced()),  # [with a price, active]
                "index_version": index.version if index else None,
                "indexed": index.counts() if index else {},
                "embedding": self.embedder.version,
                "detector": getattr(self.detector, "name", type(self.detector).__name__),
                "last_crawl": self.catalog.last_run()}
