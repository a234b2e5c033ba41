"""The image's `pip install .` works from what the Dockerfile copies (it once copied five of the
seven packages pyproject.toml installs, and the build failed)."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile

from tests.helpers import REPO

# data/ holds the models and the demo catalog: the image needs it, the install does not
NOT_FOR_THE_INSTALL = {"data"}


def copied_paths() -> list[str]:
    paths = []
    for line in (REPO / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            paths += words[1:-1]
    return paths


def test_the_image_installs_from_what_the_dockerfile_copies(tmp_path):
    tree = tmp_path / "app"
    tree.mkdir()
    for path in copied_paths():
        if path in NOT_FOR_THE_INSTALL:
            continue
        source = REPO / path
        if source.is_dir():
            shutil.copytree(source, tree / path, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tree / path)
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                          "-q", ".", "-w", str(tmp_path / "wheel")], cwd=tree,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    packages = re.search(r"^packages = \[(.*)\]", (REPO / "pyproject.toml").read_text(), re.M)
    wanted = {p.strip().strip('"') for p in packages.group(1).split(",")}
    wheel = next((tmp_path / "wheel").glob("*.whl"))
    inside = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert wanted <= inside, wanted - inside
