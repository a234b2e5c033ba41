"""`lookbot eval --ccp` on a folder other than the CCP photos the models trained on: a set kept
for acceptance, in CCP's layout, whose photos may share names with CCP's."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import scipy.io as sio

from measure.eval_data import detector_val_photos
from tests.helpers import REPO, SHARED
from training.ccp_dataset import load_ccp_labels, person_span, read_shots
from training.street_data import CCP_DIR, chunk_digest

CCP = SHARED / "ccp"
MODELS = REPO / "data" / "models"
pytestmark = pytest.mark.skipif(not (CCP / "boxes.csv").exists(), reason="no ../shared/data")


@pytest.fixture
def other_set(tmp_path):
    """Two CCP photos (one of them a train photo) under their own names, without
    shot_heuristic.csv, as a new set in CCP's layout would come."""
    folder = tmp_path / "acceptance"
    (folder / "photos").mkdir(parents=True)
    (folder / "pixel-level").mkdir()
    shutil.copy(CCP / "label_list.mat", folder)
    rows = (CCP / "boxes.csv").read_text().splitlines()
    keep = [rows[0]]
    for name in ("0001", "0002"):  # both trained the models; here they are unseen (0002: a dress)
        shutil.copy(CCP / "photos" / f"{name}.jpg", folder / "photos" / f"{name}.jpg")
        shutil.copy(CCP / "pixel-level" / f"{name}.mat", folder / "pixel-level")
        keep += [r for r in rows if r.startswith(f"{name}.jpg,")]
    (folder / "boxes.csv").write_text("\n".join(keep) + "\n")
    return folder


def test_another_folder_is_measured_on_every_photo_it_holds(other_set):
    val, how = detector_val_photos(MODELS, CCP)
    assert len(val) == 160 and "0001.jpg" not in val and "val" in how  # the split's
    photos, how = detector_val_photos(MODELS, other_set)
    assert photos == ["0001.jpg", "0002.jpg"] and "every photo in" in how


def test_another_folder_has_its_own_feature_cache_names(other_set):
    names = ["0001.jpg", "0002.jpg"]
    assert chunk_digest(names, other_set) != chunk_digest(names, CCP_DIR)
    assert chunk_digest(names, CCP_DIR) == chunk_digest(names, CCP_DIR / ".")


def test_labels_load_without_shot_heuristic(other_set):
    assert read_shots(other_set) == {}
    labels = load_ccp_labels(other_set)
    own = load_ccp_labels(CCP)
    for name in ("0001.jpg", "0002.jpg"):  # without the csv, the same boxes (dresses split too)
        assert labels[name].boxes == own[name].boxes


def test_person_span_falls_back_to_the_masks_labelled_rows():
    mask = sio.loadmat(str(CCP / "pixel-level" / "0002.mat"))["groundtruth"]
    shot = read_shots(CCP)["0002.jpg"]
    from_csv = person_span(shot, mask)
    from_mask = person_span(None, mask)
    assert from_csv == (float(shot["person_top"]), float(shot["person_bottom"]))
    assert np.allclose(from_mask, from_csv, atol=0.02 * mask.shape[0])
