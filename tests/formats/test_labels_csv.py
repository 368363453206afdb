"""The labels csv format: header aliases, multi-label, round trips, errors naming file and line."""

from __future__ import annotations

from pathlib import Path

import hypothesis.strategies as st
import numpy as np
import pytest
from conftest import make_image
from hypothesis import HealthCheck, given, settings

import dataprep.formats as F
from dataprep.dataset import Dataset
from dataprep.errors import InputError
from dataprep.formats import labels_csv
from dataprep.formats.labels_csv.parse import order_names


def _csv(path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def _pairs(ds: Dataset) -> set[tuple[str, str]]:
    names = ds.categories["name"]
    files = ds.images["file_name"]
    return {
        (files[i], names[c]) for i, c in zip(ds.annotations["image_id"], ds.annotations["category_id"], strict=True)
    }


# -- reading -------------------------------------------------------------------------------


def test_reads_both_multi_label_forms_and_empty_labels(tmp_path: Path) -> None:
    path = _csv(
        tmp_path / "labels.csv",
        "file_name,label,split\n"
        "a.jpg,cat,train\n"
        "a.jpg,dog,train\n"
        "b.jpg,cat; dog,val\n"  # joined in one cell
        "c.jpg,,test\n"  # an image without a label
        "b.jpg,dog,\n",  # repeated pair, split given once
    )
    result = labels_csv.read(path)
    ds = result.dataset
    assert ds.images["file_name"].tolist() == ["a.jpg", "b.jpg", "c.jpg"]
    assert ds.images["split"].tolist() == ["train", "val", "test"]
    assert ds.categories["name"].tolist() == ["cat", "dog"]
    assert _pairs(ds) == {("a.jpg", "cat"), ("a.jpg", "dog"), ("b.jpg", "cat"), ("b.jpg", "dog")}
    assert ds.annotations.index.tolist() == [1, 2, 3, 4]
    assert ds.annotations["x_min"].isna().all()
    notes = " | ".join(result.notes)
    assert "repeated" in notes and "line 6" in notes and "without a label" in notes


def test_header_aliases_case_bom_spaces_and_valid_split(tmp_path: Path) -> None:
    text = "\ufeffImage , Class,Subset,extra\n./x/a.jpg, cat ,Valid,1\nx\\b.jpg,dog,TRAIN,2\n"
    result = F.load(_csv(tmp_path / "mine.csv", text))
    ds = result.dataset
    assert result.format == "csv"
    assert ds.images["file_name"].tolist() == ["x/a.jpg", "x/b.jpg"]
    assert ds.images["split"].tolist() == ["val", "train"]
    assert ds.categories["name"].tolist() == ["cat", "dog"]
    assert any("extra" in n for n in result.notes)


def test_numeric_labels_are_ordered_as_numbers(tmp_path: Path) -> None:
    rows = "".join(f"{k}.png,{k}\n" for k in (10, 2, 1, 0))
    ds = labels_csv.read(_csv(tmp_path / "labels.csv", "filename,label\n" + rows)).dataset
    assert ds.categories["name"].tolist() == ["0", "1", "2", "10"]  # class_index k is label k


def test_resolves_images_beside_the_csv_or_in_images(tmp_path: Path) -> None:
    make_image(tmp_path / "a" / "images" / "x.jpg", 2, 2)
    ds = labels_csv.read(_csv(tmp_path / "a" / "labels.csv", "file_name,label\nx.jpg,cat\n")).dataset
    assert ds.root == tmp_path / "a" / "images" and ds.resolve("x.jpg").is_file()
    make_image(tmp_path / "b" / "x.jpg", 2, 2)
    ds = F.read(_csv(tmp_path / "b" / "labels.csv", "file_name,label\nx.jpg,cat\n").parent)
    assert ds.root == tmp_path / "b"


def test_column_options_and_no_separator(tmp_path: Path) -> None:
    path = _csv(tmp_path / "t.csv", "id,tags,label\na.jpg,x y,ignored\n")
    ds = labels_csv.read(path, file_column="id", label_column="tags", label_separator=" ").dataset
    assert _pairs(ds) == {("a.jpg", "x"), ("a.jpg", "y")}
    ds = labels_csv.read(path, file_column="id", label_column="tags", label_separator=None).dataset
    assert _pairs(ds) == {("a.jpg", "x y")}


def test_provenance_gives_csv_lines(tmp_path: Path) -> None:
    path = _csv(tmp_path / "labels.csv", "file_name,label\n\nb.jpg,cat\na.jpg,dog\n")  # a blank line 2
    result = labels_csv.read(path, provenance=True)
    assert result.image_sources["line"].tolist() == [4, 3]  # a.jpg, b.jpg
    assert result.annotation_sources["line"].tolist() == [4, 3]
    assert set(result.annotation_sources["file"]) == {"labels.csv"}


def test_detect(tmp_path: Path) -> None:
    assert labels_csv.detect(_csv(tmp_path / "d" / "labels.csv", "file_name,label\n")) == 0.9
    assert labels_csv.detect(tmp_path / "d") == 0.9
    assert labels_csv.detect(_csv(tmp_path / "e" / "train.csv", "path,category\n").parent) == 0.8
    assert labels_csv.detect(_csv(tmp_path / "f" / "other.csv", "x,y\n")) is None
    assert labels_csv.detect(_csv(tmp_path / "g" / "notes.txt", "file_name,label\n")) is None
    assert F.detect(tmp_path / "d")[0] == ("csv", 0.9)


def test_reads_roboflow_one_hot_split_folders(tmp_path: Path) -> None:
    # Roboflow "multi-label classification" export: <split>/_classes.csv, filename + a 0/1 column per class
    _csv(tmp_path / "train" / "_classes.csv", "filename, cat, dog, fox\na.jpg, 1, 1, 0\nb.jpg, 0, 0, 0\n")
    _csv(tmp_path / "valid" / "_classes.csv", "filename, cat, dog, fox\nc.jpg, 0, 1, 0\n")
    make_image(tmp_path / "train" / "a.jpg", 2, 2)
    assert labels_csv.detect(tmp_path) == 0.8 and labels_csv.detect(tmp_path / "train") == 0.8
    result = F.load(tmp_path, provenance=True)
    ds = result.dataset
    assert result.format == "csv" and ds.root == tmp_path
    assert ds.categories["name"].tolist() == ["cat", "dog", "fox"]  # fox: declared by the header, no image
    assert dict(zip(ds.images["file_name"], ds.images["split"], strict=True)) == {
        "train/a.jpg": "train",
        "train/b.jpg": "train",
        "valid/c.jpg": "val",
    }
    assert _pairs(ds) == {("train/a.jpg", "cat"), ("train/a.jpg", "dog"), ("valid/c.jpg", "dog")}
    assert ds.resolve("train/a.jpg").is_file()
    assert result.annotation_sources["file"].tolist() == [
        "train/_classes.csv",
        "train/_classes.csv",
        "valid/_classes.csv",
    ]
    assert result.annotation_sources["line"].tolist() == [2, 2, 2]


def test_one_hot_needs_zero_one_cells(tmp_path: Path) -> None:
    path = _csv(tmp_path / "x.csv", "filename,cat,dog\na.jpg,1,yes\n")
    assert labels_csv.detect(path) is None
    with pytest.raises(InputError) as err:
        labels_csv.read(path)
    assert err.value.line == 1 and "no label column" in err.value.problem and "0/1" in err.value.hint
    assert labels_csv.detect(_csv(tmp_path / "y.csv", "filename,cat,dog\na.jpg,1,0\n")) == 0.6


def test_detection_csv_is_not_taken_for_labels(tmp_path: Path) -> None:
    text = "filename,width,height,class,xmin,ymin,xmax,ymax\na.jpg,10,10,cat,1,2,3,4\n"
    path = _csv(tmp_path / "train" / "_annotations.csv", text)
    assert labels_csv.detect(path) is None and labels_csv.detect(tmp_path) is None
    result = labels_csv.read(path)  # explicit: reads the classes, says the boxes are not read
    assert _pairs(result.dataset) == {("a.jpg", "cat")}
    assert any("box columns" in n for n in result.notes)


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("name,label\na.jpg,cat\n", 1, "no file-name column"),
        ("file_name,kind\na.jpg,cat\n", 1, "no label column"),
        ("file_name,label\na.jpg,cat\n ,dog\n", 3, "empty 'file_name'"),
        ("file_name,label\na.jpg,cat\n../secret.jpg,dog\n", 3, "unsafe file name '../secret.jpg'"),
        ("file_name,label\n/etc/x.jpg,dog\n", 2, "unsafe file name"),
        ("file_name,label\nC:\\x.jpg,dog\n", 2, "unsafe file name"),
        ("file_name,label\nsub/,dog\n", 2, "names a folder"),
        (
            "file_name,label,split\na.jpg,cat,train\nb.jpg,cat,val\na.jpg,dog,test\n",
            4,
            "'a.jpg' is in split 'train' (line 2)",
        ),
        ("file_name,label\na.jpg,cat\nb.jpg,cat,extra,more\n", 3, "not a valid csv"),
    ],
)
def test_reports_bad_rows_with_file_and_line(tmp_path: Path, text: str, line: int, problem: str) -> None:
    path = _csv(tmp_path / "labels.csv", text)
    with pytest.raises(InputError) as err:
        labels_csv.read(path)
    assert err.value.path == str(path)
    assert err.value.line == line and err.value.record == f"line {line}"
    assert problem in err.value.problem
    assert err.value.hint
    assert str(err.value).startswith(f"{path}: line {line}: ")


def test_reports_an_empty_file_and_a_wrong_separator(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="empty"):
        labels_csv.read(_csv(tmp_path / "a.csv", ""))
    with pytest.raises(InputError) as err:
        labels_csv.read(_csv(tmp_path / "b.csv", "file_name;label\na.jpg;cat\n"))
    assert "separated" in err.value.hint and err.value.line == 1


def test_reports_text_that_is_not_utf8(tmp_path: Path) -> None:
    path = _csv(tmp_path / "labels.csv", "file_name,label\ncafé.jpg,chat\n", encoding="latin-1")
    with pytest.raises(InputError) as err:
        labels_csv.read(path)
    assert err.value.path == str(path) and "UTF-8" in err.value.problem and "UTF-8" in err.value.hint


def test_reports_a_folder_without_csv(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(InputError, match=r"no labels\.csv in this folder"):
        labels_csv.read(tmp_path / "d")
    _csv(tmp_path / "e" / "a.csv", "file_name,label\n")
    _csv(tmp_path / "e" / "b.csv", "file_name,label\n")
    with pytest.raises(InputError, match="2 csv files"):
        labels_csv.read(tmp_path / "e")


def test_collect_mode_skips_bad_rows_and_keeps_the_rest(tmp_path: Path) -> None:
    text = "file_name,label,split\na.jpg,cat,train\n../b.jpg,cat,\n,dog,\nc.jpg,dog,train\nc.jpg,dog,val\nd.jpg,cat,\n"
    result = labels_csv.read(_csv(tmp_path / "labels.csv", text), on_error="collect")
    assert result.dataset.images["file_name"].tolist() == ["a.jpg", "d.jpg"]
    assert [(f.code, f.line) for f in result.findings] == [
        ("bad-file-name", 3),
        ("bad-file-name", 4),
        ("split-conflict", 6),
    ]
    assert all(f.file.endswith("labels.csv") for f in result.findings)


# -- writing -------------------------------------------------------------------------------


def test_writes_one_row_per_label_sorted(tmp_path: Path, small_dataset: Dataset) -> None:
    report = F.write(small_dataset, tmp_path / "out", "csv")
    text = (tmp_path / "out" / "labels.csv").read_text(encoding="utf-8")
    assert text == (
        "file_name,label,split\n"
        "images/a.jpg,cat,train\n"
        "images/a.jpg,dog,train\n"
        "images/c.jpg,,val\n"
        "images/sub dir/b é.png,cat,train\n"
        "images/sub dir/b é.png,dog,train\n"
    )
    assert (tmp_path / "out" / "images" / "sub dir" / "b é.png").is_file()
    assert report.images_transferred == 3 and report.annotations == 4
    assert [loss.code for loss in report.losses] == ["box-dropped", "category-id-changed"]
    back = F.read(tmp_path / "out")
    assert back.root == tmp_path / "out"
    assert all(back.resolve(f).is_file() for f in back.images["file_name"])


def test_reports_labels_it_cannot_hold(tmp_path: Path) -> None:
    ds = Dataset.from_frames(
        {"image_id": [1, 2], "file_name": ["a.jpg", "b.jpg"]},
        {"annotation_id": [1, 2, 3], "image_id": [1, 1, 2], "category_id": [1, 1, 9]},
        {"category_id": [1, 2, 3], "name": ["x;y", "unused", " z "]},
    )
    losses = {loss.code: loss for loss in F.plan(ds, "csv")}
    assert losses["category-renamed"].count == 1 and "'x;y' -> 'x_y'" in losses["category-renamed"].message
    assert losses["category-dropped"].count == 2  # 'unused' and ' z ' have no label
    assert losses["duplicate-label-merged"].examples == [1]
    assert losses["dangling-label-dropped"].examples == [3]


# hypothesis: any multi-label dataset round-trips (file names, labels, splits).

_text = (
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters=";\\/"),
        min_size=1,
        max_size=8,
    )
    .map(str.strip)
    .filter(bool)
)


@st.composite
def _datasets(draw: st.DrawFn) -> Dataset:
    names = draw(st.lists(_text, min_size=1, max_size=5, unique=True))
    stems = draw(st.lists(_text.filter(lambda s: s not in (".", "..") and not s.startswith(".")),
                          min_size=1, max_size=6, unique=True))  # fmt: skip
    with_splits = draw(st.booleans())
    n = len(stems)
    pairs = sorted(
        {(i + 1, c + 1) for i in range(n) for c in draw(st.sets(st.integers(0, len(names) - 1), max_size=3))}
    )
    splits = [draw(st.sampled_from(["train", "val", "test"])) if with_splits else None for _ in range(n)]
    return Dataset.from_frames(
        {"image_id": np.arange(1, n + 1), "file_name": [f"d/{s}.png" for s in stems], "split": splits},
        {
            "annotation_id": np.arange(1, len(pairs) + 1),
            "image_id": [p[0] for p in pairs],
            "category_id": [p[1] for p in pairs],
        },
        {"category_id": np.arange(1, len(names) + 1), "name": names},
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ds=_datasets())
def test_round_trip_property(tmp_path_factory: pytest.TempPathFactory, ds: Dataset) -> None:
    out = tmp_path_factory.mktemp("csv") / "out"
    report = F.write(ds, out, "csv", images="none")
    back = F.read(out, "csv")

    def key(d: Dataset) -> tuple:
        files = d.images["file_name"].map(lambda f: f.rpartition("/")[2])
        split = d.images["split"].astype(object).where(d.images["split"].notna(), None)
        return dict(zip(files, split, strict=True)), {(f.rpartition("/")[2], c) for f, c in _pairs(d)}

    assert key(back) == key(ds)
    used = set(ds.annotations["category_id"])
    expected_codes = set()
    if used != set(ds.categories.index):
        expected_codes.add("category-dropped")
    if any(loss.code == "category-id-changed" for loss in report.losses):
        expected_codes.add("category-id-changed")
    assert {loss.code for loss in report.losses} == expected_codes
    # ids follow sorted names: class_index is reproducible from the file alone
    assert back.categories["name"].tolist() == order_names(back.categories["name"].tolist())


def test_csv_folders_csv_keeps_labels(tmp_path: Path) -> None:
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        make_image(tmp_path / "src" / "images" / name, 3, 3)
    _csv(
        tmp_path / "src" / "labels.csv",
        "file_name,label,split\nimages/a.jpg,cat,train\nimages/b.jpg,dog,val\nimages/c.jpg,,val\n",
    )
    src = F.read(tmp_path / "src")
    F.write(src, tmp_path / "folders", "folders")
    F.write(F.read(tmp_path / "folders"), tmp_path / "back", "csv")
    assert (tmp_path / "back" / "labels.csv").read_text(encoding="utf-8") == (
        "file_name,label,split\nimages/train/cat/a.jpg,cat,train\nimages/val/c.jpg,,val\nimages/val/dog/b.jpg,dog,val\n"
    )


def test_file_names_follow_the_member_rule(tmp_path: Path) -> None:
    """File cells go through `files.clean_members`: cleaned, or one finding each with its line."""
    path = _csv(
        tmp_path / "labels.csv",
        "file_name,label\n./a.jpg,cat\nsub//b.jpg,dog\nsub\\c.jpg,dog\n.,cat\n./,cat\nsub/.,cat\n../x.jpg,cat\n",
    )
    result = labels_csv.read(path, on_error="collect")
    assert result.dataset.images["file_name"].tolist() == ["a.jpg", "sub/b.jpg", "sub/c.jpg"]
    problems = [(f.line, f.message) for f in result.findings]
    assert problems == [
        (5, "empty 'file_name'"),
        (6, "empty 'file_name'"),
        (7, "'file_name' 'sub/.' names a folder, not a file"),
        (8, "unsafe file name '../x.jpg'"),
    ]


def test_does_not_import_the_folders_format() -> None:
    """Shared helpers live in formats/_classification.py, not in another format."""
    import ast

    package = Path(labels_csv.__file__).parent  # every module of the package
    trees = [ast.parse(p.read_text()) for p in sorted(package.glob("*.py"))]
    modules = {n.module for tree in trees for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "dataprep.formats._classification" in modules
    assert not any(m and m.startswith("dataprep.formats.folders") for m in modules)


def test_package_modules_stay_small() -> None:
    """The format is split by role (layout, parse, write, read in __init__): small modules, short functions."""
    import ast

    for file in sorted(Path(labels_csv.__file__).parent.glob("*.py")):
        text = file.read_text(encoding="utf-8")
        assert len(text.splitlines()) <= 400, file.name
        functions = [n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.FunctionDef)]
        assert all(f.end_lineno - f.lineno < 60 for f in functions), file.name
    assert {p.stem for p in Path(labels_csv.__file__).parent.glob("*.py")} == {"__init__", "layout", "parse", "write"}
