"""Plain records passed between the stages: gate → detect → embed → search → cards."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

CATEGORIES: tuple[str, ...] = ("topwear", "bottomwear", "footwear", "eyewear", "handbag")
GENDERS: tuple[str, ...] = ("Men", "Women", "Unisex", "Boys", "Girls", "Kids")  # Kids: either
KIDS_WORDS = {"kid", "kids", "kidswear", "infant", "infants", "toddler", "toddlers"}
BOY_WORDS, GIRL_WORDS = {"boy", "boys"}, {"girl", "girls"}
ADULT_WORDS = {"men", "man", "women", "woman"}


def catalog_gender(label: Optional[str], title: Optional[str]) -> Optional[str]:
    """A product's gender: its label, unless its title names kids where the label names adults
    ("Gini and Jony Kids Unisex Blue Jeans" labelled Unisex, "Palm Tree Girl's Benita Blue
    Kidswear" labelled Women: 120 of the 4,915 demo products), then Boys or Girls as the title
    says, or Kids when it says neither or both. A boy or girl beside men or women is a name
    ("Fastrack Women FT Girl Sunglasses"); a kids' word is not ("Timberland Men Toddler")."""
    words = {w.lower() for w in re.findall(r"[A-Za-z]+", title or "")}
    boy, girl = bool(words & BOY_WORDS), bool(words & GIRL_WORDS)
    if not words & KIDS_WORDS and (words & ADULT_WORDS or not (boy or girl)):
        return label
    if boy != girl:
        return "Boys" if boy else "Girls"
    return label if label in ("Boys", "Girls") else "Kids"

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels of the input photo


@dataclass
class GateVerdict:
    """Whether a photo is a usable full-body shot, and why not when it is not."""

    full_shot: bool
    reason: str  # "ok" or a reason code such as "feet_out_of_frame"
    message: str
    landmarks: Optional[list[tuple[float, float, float]]] = None  # (x_px, y_px, visibility) x33
    people: int = 1  # clearly separate people the pose detector found (MediaPipe's graph: 1)


@dataclass
class Detection:
    """One fashion article found in a photo."""

    category: str
    box: Box
    score: float
    source: str  # "pose" or "yolo"

    def to_json(self) -> dict[str, Any]:
        return {"category": self.category, "box": [round(v, 1) for v in self.box],
                "score": round(float(self.score), 4), "source": self.source}


@dataclass
class Product:
    """A catalog product as the pipeline and the cards see it."""

    id: str
    title: str
    brand: Optional[str]
    price: Optional[int]
    url: str
    image: Optional[str]  # local path when we have the file, else the remote URL
    category: str = ""
    article_type: Optional[str] = None
    gender: Optional[str] = None
    colour: Optional[str] = None
    mrp: Optional[int] = None
    distance: float = 0.0

    @property
    def price_label(self) -> str:
        """"₹1,299", or "price on Myntra" when the catalog has no price (the demo catalog)."""
        return f"₹{self.price:,}" if self.price is not None else "price on Myntra"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "brand": self.brand, "price": self.price,
                "url": self.url, "image": self.image, "article_type": self.article_type,
                "gender": self.gender, "colour": self.colour,
                "distance": round(float(self.distance), 4)}


@dataclass
class Article:
    """A detected article together with the products that look like it."""

    detection: Detection
    products: list[Product] = field(default_factory=list)
    vector: Optional[Any] = field(default=None, repr=False)  # query embedding, for paging
    hint: Optional[Any] = field(default=None, repr=False)  # the street model's ArticleHint

    def to_json(self) -> dict[str, Any]:
        out = {**self.detection.to_json(), "products": [p.to_json() for p in self.products]}
        if self.hint is not None:
            out["predicted"] = self.hint.to_json()
        return out


@dataclass
class SearchOptions:
    """What the shopper asked for: whose clothes, how many, and how much to spend."""

    gender: str = "auto"  # men | women | any, or auto: the wearer's, inferred from the photo
    k: int = 5
    budget: Optional[int] = None  # maximum price in rupees; products with unknown price pass
    offset: int = 0  # for "more like this" paging


# The timed stages of `Engine.look`, in order (`LookResult.timings`).
LOOK_STAGES = ("decode", "gate", "detect", "segment", "embed", "search")


@dataclass
class LookResult:
    """Everything `look` finds for one photo."""

    photo: str
    verdict: GateVerdict
    articles: list[Article] = field(default_factory=list)
    width: int = 0
    height: int = 0
    timings: dict[str, float] = field(default_factory=dict)  # seconds per LOOK_STAGES entry
    gender: str = "any"  # whose products were shown: men, women, any (adults) or kids
    gender_source: str = "you"  # "photo" when inferred from the wearer, "you" when chosen
    wearer: Optional[dict[str, Any]] = None  # the street model's call: gender, p_women

    @property
    def full_shot(self) -> bool:
        return self.verdict.full_shot

    def to_json(self) -> dict[str, Any]:
        return {"photo": self.photo, "full_shot": self.verdict.full_shot,
                "reason": self.verdict.reason, "message": self.verdict.message,
                "people": self.verdict.people,
                "gender": {"shown": self.gender, "source": self.gender_source,
                           **({"wearer": self.wearer} if self.wearer else {})},
                "articles": [a.to_json() for a in self.articles]}


def as_dict(record: Any) -> dict[str, Any]:
    return asdict(record)


@dataclass
class DetectResult:
    photo: str
    reason: str
    message: str
    detections: list[Detection] = field(default_factory=list)

    def to_json(self) -> dict:
        out = {"photo": self.photo, "detections": [d.to_json() for d in self.detections]}
        if self.reason != "ok":
            out.update(reason=self.reason, message=self.message)
        return out


@dataclass
class SimilarResult:
    photo: str
    reason: str
    message: str
    products: list[Product] = field(default_factory=list)

    def to_json(self) -> dict:
        out = {"photo": self.photo, "products": [p.to_json() for p in self.products]}
        if self.reason != "ok":
            out.update(reason=self.reason, message=self.message)
        return out
