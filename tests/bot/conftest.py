"""Fixtures of the bot's tests."""
from __future__ import annotations

import pytest

from core.config import Config
from core.index import current_version


@pytest.fixture(scope="module")
def look_engine(request):
    """The session's engine (loaded once), when the demo catalog has an index."""
    root = Config.from_env().index_root
    if current_version(root) is None:
        pytest.skip(f"no catalog index in {root}: run `lookbot index`")
    return request.getfixturevalue("engine")
