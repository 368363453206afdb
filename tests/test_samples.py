"""Sample generators: deterministic bytes, the hard cases they promise, and the committed samples/."""

from __future__ import annotations

import builtins
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from typer.testing import CliRunner

import dataprep.formats as F
from dataprep import samples
from dataprep.dataset import Dataset
from dataprep.errors import OutputError

SAMPLES = REPO / "samples"


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _writers_ready() -> None:
    for fmt in ("coco", "voc", "yolo"):
        if "placeholder" in F.FORMATS[fmt].description:
            pytest.skip(f"the {fmt} writer has not landed yet")


@pytest.fixture(scope="module")
def detection(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    pytest.importorskip("sklearn")
    return samples.make_detection_dataset(tmp_path_factory.mktemp("det"))


# -- generators ----------------------------------------------------------------------------


def test_detection_generator_is_deterministic(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    a = samples.make_detection_dataset(tmp_path / "a", seed=3, n_images=12)
    b = samples.make_detection_dataset(tmp_path / "b", seed=3, n_images=12)
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    pd.testing.assert_frame_equal(a.images, b.images)
    pd.testing.assert_frame_equal(
        a.annotations.drop(columns="segmentation"), b.annotations.drop(columns="segmentation")
    )
    for pa, pb in zip(a.annotations["segmentation"], b.annotations["segmentation"], strict=True):
        assert (pa is None and pb is None) or all(np.array_equal(x, y) for x, y in zip(pa, pb, strict=True))
    samples.make_detection_dataset(tmp_path / "c", seed=4, n_images=12)
    assert _digests(tmp_path / "c") != _digests(tmp_path / "a")


def test_an_image_does_not_depend_on_how_many_are_made(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    samples.make_detection_dataset(tmp_path / "few", n_images=4)
    samples.make_detection_dataset(tmp_path / "more", n_images=6)
    few, more = _digests(tmp_path / "few"), _digests(tmp_path / "more")
    assert all(more[name] == digest for name, digest in few.items())


def test_detection_dataset_has_the_hard_cases(detection: Dataset) -> None:
    ds = detection
    images, anns = ds.images, ds.annotations
    assert len(images) == 50 and (images["width"] == 128).all() and (images["height"] == 96).all()
    assert images["split"].value_counts().to_dict() == {"train": 35, "val": 10, "test": 5}
    assert ds.categories["name"].tolist() == ["zero", "one", "two", "three", "four"]
    xyxy = ds.boxes_xyxy()
    w, h = xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]
    assert (w > 0).all() and (h > 0).all()
    assert (xyxy[:, :2] >= 0).all() and (xyxy[:, 2] <= 128).all() and (xyxy[:, 3] <= 96).all()  # clipped
    assert ((w < 8) & (h < 10)).sum() >= 5  # tiny objects
    on_border = (xyxy[:, 0] == 0) | (xyxy[:, 1] == 0) | (xyxy[:, 2] == 128) | (xyxy[:, 3] == 96)
    assert on_border.sum() >= 10
    assert (~images.index.isin(anns["image_id"])).sum() == 5  # images without objects
    assert len(set(anns["category_id"])) == 5
    # overlapping pairs within an image
    overlaps = 0
    for _, group in anns.groupby("image_id"):
        b = group[["x_min", "y_min", "x_max", "y_max"]].to_numpy()
        iw = np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0])
        ih = np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1])
        inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
        overlaps += int((np.triu(inter, 1) > 0).sum())
    assert overlaps >= 8
    # polygons on most objects, inside their box, with the box as their bounds
    polys = anns["segmentation"].dropna()
    assert 0.4 < len(polys) / len(anns) < 0.8
    for ann_id, poly in polys.items():
        (ring,) = poly
        assert ring.shape[1] == 2 and len(ring) >= 3
        np.testing.assert_allclose([*ring.min(axis=0), *ring.max(axis=0)], xyxy[anns.index.get_loc(ann_id)])


def test_classification_generator(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    a = samples.make_classification_dataset(tmp_path / "a", n_per_class=10)
    b = samples.make_classification_dataset(tmp_path / "b", n_per_class=10)
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    assert len(a.images) == 100 and a.categories["name"].tolist() == [str(d) for d in range(10)]
    assert a.annotations.groupby("category_id").size().tolist() == [10] * 10
    assert a.images["split"].value_counts().to_dict() == {"train": 70, "val": 20, "test": 10}
    from PIL import Image

    with Image.open(a.resolve(a.images["file_name"].iloc[0])) as im:
        assert (im.size, im.mode) == ((32, 32), "L")
    pd.testing.assert_frame_equal(a.annotations, b.annotations)


def test_reports_missing_scikit_learn(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real_import = builtins.__import__

    def no_sklearn(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("sklearn"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    with pytest.raises(samples.MissingExtraError, match=r"scikit-learn.*pip install -e \.\[samples\]"):
        samples.make_detection_dataset(tmp_path)
    with pytest.raises(ImportError):  # also an ImportError for callers that catch that
        samples.regenerate(tmp_path / "out")
    assert not (tmp_path / "out").exists()


# -- regenerate ----------------------------------------------------------------------------


def test_regenerate_is_byte_deterministic(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    _writers_ready()
    samples.regenerate(tmp_path / "a", n_images=8, n_per_class=2)
    reports = samples.regenerate(tmp_path / "b", n_images=8, n_per_class=2)
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")
    assert set(reports) == {
        "detection/coco",
        "detection/voc",
        "detection/yolo",
        "classification/folders",
        "classification/csv",
    }
    assert reports["classification/folders"].lossless and reports["classification/csv"].lossless
    assert (tmp_path / "a" / "README.md").read_text().startswith(samples.README_MARKER)
    # a samples folder is replaced in place; anything else is refused
    samples.regenerate(tmp_path / "a", n_images=8, n_per_class=2)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("x")
    with pytest.raises(OutputError, match="not a dataprep samples folder"):
        samples.regenerate(tmp_path / "mine", n_images=2, n_per_class=1)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "x"


def test_cli_regenerate(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    _writers_ready()
    from dataprep.cli import app

    result = CliRunner().invoke(app, ["samples", "regenerate", "--out", str(tmp_path / "s"), "--json"])
    assert result.exit_code == 0, result.output
    assert '"classification/csv"' in result.output
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("x")
    result = CliRunner().invoke(app, ["samples", "regenerate", "--out", str(tmp_path / "x")])
    assert result.exit_code == 4


# -- the committed samples -----------------------------------------------------------------

# (folder, format, images, annotations, categories, splits)
EXPECTED = [
    ("detection/coco", "coco", 50, 145, 5, {"train": 35, "val": 10, "test": 5}),
    ("detection/voc", "voc", 50, 145, 5, {"train": 35, "val": 10, "test": 5}),
    ("detection/yolo", "yolo", 50, 145, 5, {"train": 35, "val": 10, "test": 5}),
    ("classification/folders", "folders", 300, 300, 10, {"train": 210, "val": 60, "test": 30}),
    ("classification/csv", "csv", 300, 300, 10, {"train": 210, "val": 60, "test": 30}),
]


@pytest.mark.parametrize(("folder", "fmt", "n_images", "n_annotations", "n_categories", "splits"), EXPECTED)
def test_committed_samples_read_back(
    folder: str, fmt: str, n_images: int, n_annotations: int, n_categories: int, splits: dict[str, int]
) -> None:
    path = SAMPLES / folder
    if not path.is_dir():
        pytest.skip(f"samples/{folder} is not there yet")
    if "placeholder" in F.FORMATS[fmt].description:
        pytest.skip(f"the {fmt} reader has not landed yet")
    result = F.load(path)
    ds = result.dataset
    assert result.format == fmt
    assert (len(ds.images), len(ds.annotations), len(ds.categories)) == (n_images, n_annotations, n_categories)
    assert ds.images["split"].value_counts().to_dict() == splits
    assert all(ds.resolve(f).is_file() for f in ds.images["file_name"])
