"""Shared fixtures: tiny datasets built in memory, tiny image files, the conformance folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings
from PIL import Image

from dataprep.dataset import Dataset

# In CI every property test draws the same examples, so a red run can be reproduced and a
# rare example cannot turn a landing red by chance; locally they explore new ones each run.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]
CONFORMANCE = REPO.parent / "shared" / "conformance"


@pytest.fixture
def conformance() -> Path:
    """``../shared/conformance``; the test is skipped when it is absent."""
    if not CONFORMANCE.is_dir():
        pytest.skip("../shared/conformance is absent")
    return CONFORMANCE


def make_image(path: Path, width: int, height: int, *, color: int = 128) -> Path:
    """Write a small solid-colour image (format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), (color, color // 2, 255 - color)).save(path)
    return path


@pytest.fixture
def small_dataset(tmp_path: Path) -> Dataset:
    """3 images (one empty) with real files, 2 sparse categories, 4 boxes, train/val splits."""
    return build_small_dataset(tmp_path / "src")


def build_small_dataset(root: Path) -> Dataset:
    """The `small_dataset` fixture's dataset, with its image files written under `root`.

    Images ``a.jpg`` (64x48), ``sub dir/b é.png`` (32x32) and ``c.jpg`` (20x40, no objects);
    categories 3 "cat" and 7 "dog"; one fractional box (5.5, 6.25, 30, 40).
    """
    names = ["a.jpg", "sub dir/b é.png", "c.jpg"]
    sizes = [(64, 48), (32, 32), (20, 40)]
    for i, (n, (w, h)) in enumerate(zip(names, sizes, strict=True)):
        make_image(root / n, w, h, color=40 * i)
    images = {
        "image_id": [1, 2, 3],
        "file_name": names,
        "width": [w for w, _ in sizes],
        "height": [h for _, h in sizes],
        "split": ["train", "train", "val"],
    }
    boxes = np.array([[0, 0, 10, 10], [5.5, 6.25, 30, 40], [0, 0, 32, 32], [1, 2, 3, 4]], dtype=float)
    annotations = {
        "annotation_id": [1, 2, 3, 4],
        "image_id": [1, 1, 2, 2],
        "category_id": [3, 7, 7, 3],
        "x_min": boxes[:, 0],
        "y_min": boxes[:, 1],
        "x_max": boxes[:, 2],
        "y_max": boxes[:, 3],
    }
    categories = {"category_id": [3, 7], "name": ["cat", "dog"]}
    return Dataset.from_frames(images, annotations, categories, root=root)
