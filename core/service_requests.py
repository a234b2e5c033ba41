"""What `lookbot serve` takes from a request, checked as the command line checks it: a bad value
is a 400 that names the parameter and what it accepts, never a silent default or a 500."""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from .index import normalise_gender
from .records import CATEGORIES, SearchOptions

MAX_K = 50  # products per article a request may ask for (the bot asks for 5 at a time)


class BadRequest(ValueError):
    """A request the service refuses (400), with a message for its client."""


def search_options(query: Any) -> SearchOptions:
    """gender, k, budget and offset from a query string or a JSON body."""
    gender = str(query.get("gender") or "auto").strip().lower()
    if gender != "auto":
        try:
            gender = normalise_gender(gender)  # "w" or "female": women
        except ValueError:
            raise BadRequest(f"gender must be auto, men, women, any or kids, not "
                             f"{query.get('gender')!r}") from None
    budget = query.get("budget")
    if isinstance(budget, str) and budget.strip().lower() in ("", "none", "off"):
        budget = None
    return SearchOptions(
        gender=gender, k=whole(query.get("k"), "k", 5, 1, MAX_K),
        budget=None if budget is None else whole(budget, "budget", None, 1),
        offset=whole(query.get("offset"), "offset", 0, 0))


def whole(value: Any, name: str, default: Optional[int], low: int,
          high: Optional[int] = None) -> Optional[int]:
    """`value` as a whole number from `low` to `high` (`default` when absent)."""
    if value is None or value == "":
        return default
    span = f"from {low} to {high}" if high is not None else f"of {low} or more"
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number != int(number) or number < low \
            or (high is not None and number > high):
        raise BadRequest(f"{name} must be a whole number {span}, not {value!r}")
    return int(number)


def search_vector(body: dict, dim: Optional[int]) -> np.ndarray:
    """The query vector of a /search body: a flat list of `dim` finite numbers."""
    try:
        vector = np.asarray(body["vector"], np.float32)
    except KeyError:
        raise BadRequest("vector is missing") from None
    except (TypeError, ValueError):
        raise BadRequest("vector must be a flat list of numbers") from None
    if vector.ndim != 1 or (dim is not None and len(vector) != dim):
        raise BadRequest(f"vector must be a flat list of {dim} numbers")
    if not np.isfinite(vector).all():
        raise BadRequest("vector must hold finite numbers only")
    return vector


def search_category(body: dict) -> str:
    category = body.get("category")
    if category not in CATEGORIES:
        raise BadRequest(f"category must be one of {', '.join(CATEGORIES)}, not {category!r}")
    return category
