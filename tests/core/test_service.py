"""`lookbot serve` on a local Ray: the Serve app answers exactly as the in-process engine does."""
from __future__ import annotations

import httpx
import pytest

from core.records import SearchOptions
from tests.helpers import FIXTURES

PHOTOS = [FIXTURES / "people" / "full_ccp_0032.jpg", FIXTURES / "people" / "full_tests_0000003.jpg"]


@pytest.mark.slow
def test_serve_look_answers_as_lookbot_look_json(ray_service, engine):
    options = SearchOptions(gender="women", k=3, budget=5000)
    with httpx.Client(base_url=ray_service, timeout=120) as client:
        for path in PHOTOS:
            data = path.read_bytes()
            answer = client.post("/look", content=data, params={
                "gender": "women", "k": 3, "budget": 5000, "photo": path.name})
            assert answer.status_code == 200
            expected = engine.look(data, photo=path.name, options=options).to_json()
            assert answer.json() == expected
            assert expected["full_shot"] and expected["articles"], "a real look, not an empty one"
        bad = client.post("/look", content=b"not an image", params={"photo": "x"})
        assert bad.status_code == 200
        assert bad.json() == engine.look(b"not an image", photo="x").to_json()
        assert not bad.json()["full_shot"]
        assert client.get("/stats").json()["embedding"] == engine.embedding_version
        assert client.post("/look", content=b"", params={"k": "many"}).status_code == 400
        # every bad value is a 400 naming it (the CLI refuses the same), never a silent default
        for params, words in [({"k": 0}, "k must be"), ({"budget": "inf"}, "budget must be"),
                              ({"offset": -1}, "offset must be"), ({"gender": "xyz"}, "gender")]:
            answer = client.post("/look", content=b"x", params=params)
            assert answer.status_code == 400 and words in answer.json()["error"], params
        alias = client.post("/look", content=PHOTOS[0].read_bytes(), params={"gender": "w", "k": 1})
        assert alias.json()["gender"]["shown"] == "women"  # as the engine names it
        form = client.post("/look", files={"photo": ("p.jpg", PHOTOS[0].read_bytes())})
        assert form.status_code == 400 and "--data-binary" in form.json()["error"]
        assert client.get("/look").status_code == 405
        assert client.post("/anything/look", content=b"x").status_code == 404
        vector = engine.look(PHOTOS[0].read_bytes()).articles[0].vector.tolist()
        body = {"vector": vector, "category": "topwear", "k": 2}
        assert len(client.post("/search", json=body).json()["products"]) == 2
        assert client.post("/search", json={**body, "vector": vector[:10]}).status_code == 400
        stale = client.post("/search", json={**body, "embedding": "an-older-model"})
        assert stale.status_code == 409 and stale.json()["expired"] is True
