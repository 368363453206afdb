"""The format contract's shared pieces: output layout of image names, loss planning."""

from __future__ import annotations

import numpy as np
import pytest

from dataprep.dataset import Dataset
from dataprep.formats.base import Capabilities, image_layout, plan_losses


@pytest.mark.parametrize(
    ("file_names", "splits", "expected"),
    [
        (["images/train/a.jpg", "images/train/s/b.jpg"], ["train"] * 2, ["a.jpg", "s/b.jpg"]),
        # alone in its split, a sub-folder below the layout folders survives
        (["images/val/sub/c.jpg"], ["val"], ["sub/c.jpg"]),
        (["JPEGImages/a.jpg", "JPEGImages/b.jpg"], [None, None], ["a.jpg", "b.jpg"]),
        (["train2017/a.jpg", "train2017/b.jpg"], ["train2017"] * 2, ["a.jpg", "b.jpg"]),
        (["obj_train_data/x/a.jpg"], ["train"], ["x/a.jpg"]),
        (["photos/a.jpg", "photos/b.jpg"], [None, None], ["a.jpg", "b.jpg"]),
        (["a.jpg", "d/b.jpg"], [None, None], ["a.jpg", "d/b.jpg"]),
    ],
)
def test_image_layout_names(file_names: list[str], splits: list, expected: list[str]) -> None:
    n = len(file_names)
    ds = Dataset.from_frames({"image_id": np.arange(1, n + 1), "file_name": file_names, "split": splits})
    layout = image_layout(ds)
    assert layout["name"].tolist() == expected
    assert layout["split"].tolist() == [s or "" for s in splits]


def test_image_layout_unassigned_next_to_splits() -> None:
    ds = Dataset.from_frames({"image_id": [1, 2], "file_name": ["a.jpg", "b.jpg"], "split": ["train", None]})
    assert image_layout(ds)["split"].tolist() == ["train", "unassigned"]


def test_plan_losses_names_counts_and_examples() -> None:
    ds = Dataset.from_frames(
        {"image_id": [1], "file_name": ["a.jpg"], "width": [10], "height": [10]},
        {
            "annotation_id": [1, 2, 3],
            "image_id": [1, 1, 1],
            "category_id": [1, 1, 1],
            "x_min": [0.5, 1, np.nan],
            "y_min": [0, 1, np.nan],
            "x_max": [2, 3, np.nan],
            "y_max": [2, 3, np.nan],
            "iscrowd": [True, False, False],
            "score": [0.9, np.nan, np.nan],
        },
        {"category_id": [1], "name": ["a"]},
    )
    caps = Capabilities(float_coordinates=False)
    losses = {loss.code: loss for loss in plan_losses(ds, caps, format_name="X")}
    assert losses["crowd-flag-dropped"].examples == [1]
    assert losses["score-dropped"].count == 1
    assert losses["image-label-dropped"].examples == [3]
    assert losses["coordinates-rounded"].examples == [1]
    assert plan_losses(ds, Capabilities(crowd=True, scores=True, image_level_labels=True), format_name="X") == []


# -- the validation hooks (FormatSpec.validation) -------------------------------------------------


def _hooked(kind: str) -> list[str]:
    from dataprep.formats import FORMATS

    return [name for name, spec in FORMATS.items() if getattr(spec.validation, kind, None) is not None]


@pytest.mark.parametrize("name", _hooked("locate"))
def test_locate_hooks_align_with_ids(name: str, small_dataset: Dataset) -> None:
    from dataprep.formats import FORMATS
    from dataprep.formats.base import Locating

    locate = FORMATS[name].validation.locate
    where = Locating(None, (), str)
    for unit, ids in (("image", [1, 3, 42]), ("annotation", [4, 1, 42])):
        files, records = locate(small_dataset, np.array(ids, dtype=np.int64), unit, where)
        assert len(files) == len(records) == 3, (unit, files, records)
        assert all(v is None or isinstance(v, str) for v in [*files, *records])


@pytest.mark.parametrize("name", _hooked("documents"))
def test_documents_name_existing_files_and_known_schemas(name: str, small_dataset: Dataset, tmp_path) -> None:
    import dataprep
    from dataprep.formats import FORMATS
    from dataprep.validation.schema import SCHEMAS

    dataprep.write(small_dataset, tmp_path / name, name)
    result = dataprep.load(tmp_path / name, name, provenance=True)
    docs = FORMATS[name].validation.documents(tmp_path / name, result)
    assert docs, f"{name} wrote no metadata document"
    assert all(d.path.is_file() and d.schema in SCHEMAS for d in docs)
