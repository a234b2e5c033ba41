"""What `lookbot serve` takes from a request: a bad value is a 400 naming the parameter, as the
command line refuses it, never a silent default or a 500."""
from __future__ import annotations

import subprocess
import sys

import pytest

from core.service_requests import (MAX_K, BadRequest, search_category, search_options,
                                   search_vector)
from tests.helpers import REPO


def test_good_values_and_aliases_become_the_engine_options():
    o = search_options({"gender": "W", "k": "3", "budget": "1500", "offset": "5"})
    assert (o.gender, o.k, o.budget, o.offset) == ("women", 3, 1500, 5)
    o = search_options({"k": 4.0, "budget": None})  # a JSON body's numbers
    assert (o.gender, o.k, o.budget, o.offset) == ("auto", 4, None, 0)
    assert search_options({"budget": "none"}).budget is None
    assert search_options({"gender": "everyone"}).gender == "any"


@pytest.mark.parametrize("query, words", [
    ({"k": "0"}, f"k must be a whole number from 1 to {MAX_K}, not '0'"),
    ({"k": "-1"}, "k must be a whole number"),
    ({"k": "100000"}, "k must be a whole number"),
    ({"k": "many"}, "k must be a whole number"),
    ({"k": True}, "k must be a whole number"),
    ({"budget": "inf"}, "budget must be a whole number of 1 or more, not 'inf'"),
    ({"budget": "1e400"}, "budget must be a whole number"),
    ({"budget": "-5"}, "budget must be a whole number"),
    ({"budget": 99.5}, "budget must be a whole number"),
    ({"offset": "-1"}, "offset must be a whole number of 0 or more"),
    ({"gender": "xyz"}, "gender must be auto, men, women, any or kids, not 'xyz'"),
])
def test_bad_values_are_refused_by_name(query, words):
    with pytest.raises(BadRequest, match=words.replace("(", r"\(")):
        search_options(query)


def test_search_vectors_and_categories_are_checked():
    assert search_vector({"vector": [0.5, 1, 2]}, 3).tolist() == [0.5, 1.0, 2.0]
    for body, words in [({}, "vector is missing"), ({"vector": "abc"}, "flat list of numbers"),
                        ({"vector": [[1, 2, 3]]}, "flat list of 3 numbers"),
                        ({"vector": [1, 2]}, "flat list of 3 numbers"),
                        ({"vector": [1, float("nan"), 2]}, "finite numbers only")]:
        with pytest.raises(BadRequest, match=words):
            search_vector(body, 3)
    assert search_category({"category": "footwear"}) == "footwear"
    with pytest.raises(BadRequest, match="category must be one of topwear, .*not 'shoes'"):
        search_category({"category": "shoes"})


def test_a_bot_on_a_remote_engine_loads_no_model_library():
    code = "import sys, bot.app, core.remote; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip() == "False", out.stderr[-2000:]
