"""Fuzz: mutated label files fed to every reader and to validate raise only dataprep's own errors.

Each example copies a small valid dataset, damages one of its files (truncation, flipped or
inserted bytes, a token swapped for a hostile value, binary garbage) and reads it with
``on_error="raise"`` and ``"collect"`` and validates it. The only exceptions allowed out are
`DataprepError` subclasses; a validate run that succeeds returns a report whose JSON is valid.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from test_validate_files import write_voc, write_yolo
from validation_builders import write_coco

from dataprep import formats
from dataprep.errors import DataprepError
from dataprep.validation import validate
from dataprep.validation.schema import load_schema

HOSTILE = [
    b"NaN",
    b"-Infinity",
    b"1e309",
    b"-1",
    b"0",
    b"null",
    b'"x"',
    b"[]",
    b"{}",
    b"true",
    b"99999999999999999999999",
    b"\x00",
    b"\xff\xfe",
    b"&lol;",
    b"<!DOCTYPE a [<!ENTITY a 'aaaa'>]>",
    b"../../etc/passwd",
    b"\n",
    b" ",
    # issue 7: non-finite and overflowing numbers, lone surrogates, deep nesting
    b"Infinity",
    b"1e308",
    b'"\\ud800"',
    b"[" * 3000,
    b"{\"a\": " * 2000,
]
TOKEN = re.compile(rb"-?\d+(\.\d+)?|\"[^\"]*\"|[A-Za-z_]+|[{}\[\]<>]")


@st.composite
def mutations(draw: st.DrawFn, data: bytes) -> bytes:
    """One to three damaging edits of `data`."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "token", "garbage", "duplicate"]))
        n = len(out)
        if kind == "truncate" and n:
            del out[draw(st.integers(0, n - 1)) :]
        elif kind == "flip" and n:
            for _ in range(draw(st.integers(1, 4))):
                out[draw(st.integers(0, n - 1))] = draw(st.integers(0, 255))
        elif kind == "insert":
            at = draw(st.integers(0, n))
            out[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "token":
            tokens = list(TOKEN.finditer(bytes(out)))
            if tokens:
                m = draw(st.sampled_from(tokens))
                out[m.start() : m.end()] = draw(st.sampled_from(HOSTILE))
        elif kind == "garbage":
            out[:] = draw(st.binary(min_size=0, max_size=64))
        elif kind == "duplicate" and n:
            a = draw(st.integers(0, n - 1))
            b = draw(st.integers(a, min(n, a + 200)))
            out[b:b] = out[a:b]
    return bytes(out)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("fuzz")
    return {
        "coco": write_coco(base / "coco"),
        "yolo": write_yolo(base / "yolo", plant=False),
        "voc": write_voc(base / "voc", plant=False),
    }


TARGETS = {
    "coco": ["annotations/instances_train.json"],
    "yolo": ["labels/train/a.txt", "labels/val/d.txt", "data.yaml"],
    "voc": ["Annotations/a.xml", "ImageSets/Main/train.txt"],
}
REPORT_SCHEMA = Draft202012Validator(load_schema("report"))


def _exercise(root: Path, fmt: str) -> None:
    for on_error in ("raise", "collect"):
        with contextlib.suppress(DataprepError):
            formats.load(root, fmt, on_error=on_error)
    for auto in (fmt, "auto"):
        try:
            report = validate(root, format=auto)
        except DataprepError:
            continue
        data = json.loads(report.to_json())
        assert not list(REPORT_SCHEMA.iter_errors(data))
        report.to_junit()
        report.to_github()


FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


@pytest.mark.parametrize("fmt", sorted(TARGETS))
@FUZZ
@given(data=st.data())
def test_mutated_files_raise_only_dataprep_errors(datasets: dict[str, Path], fmt: str, data: st.DataObject) -> None:
    target = data.draw(st.sampled_from(TARGETS[fmt]), label="file")
    original = (datasets[fmt] / target).read_bytes()
    damaged = data.draw(mutations(original), label="content")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / fmt
        shutil.copytree(datasets[fmt], root)
        (root / target).write_bytes(damaged)
        _exercise(root, fmt)


@FUZZ
@given(garbage=st.binary(max_size=256), name=st.sampled_from(["a.jpg", "b.png", "d e.jpg"]))
def test_garbage_images_become_findings(datasets: dict[str, Path], garbage: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "coco"
        shutil.copytree(datasets["coco"], root)
        split = "val" if name == "d e.jpg" else "train"
        (root / "images" / split / name).write_bytes(garbage)
        report = validate(root, decode=True)
        assert report.exit_code == 1
        assert {"image-unreadable", "image-corrupt", "size-mismatch"} & set(report.codes())


@FUZZ
@given(
    kind=st.sampled_from(["outside-file", "loop", "up-folder", "dangling", "outside-folder"]),
    name=st.sampled_from(["a.jpg", "b.png", "d e.jpg"]),
    to=st.sampled_from(["yolo", "voc", "coco"]),
)
def test_symlinked_images_never_bring_outside_files(datasets: dict[str, Path], kind: str, name: str, to: str) -> None:
    """Issue 7: image symlinks (out of the root, loops, dangling) give dataprep errors or findings,
    and the outside file's bytes never reach a convert output."""
    with tempfile.TemporaryDirectory() as tmp:
        secret = Path(tmp) / "secret"
        secret.mkdir()
        (secret / name).write_bytes(b"SECRET-BYTES")
        root = Path(tmp) / "coco"
        shutil.copytree(datasets["coco"], root)
        split = "val" if name == "d e.jpg" else "train"
        image = root / "images" / split / name
        image.unlink()
        target = {
            "outside-file": secret / name,
            "loop": image,
            "up-folder": root,
            "dangling": Path(tmp) / "nowhere",
            "outside-folder": secret,
        }[kind]
        image.symlink_to(target)
        if kind == "outside-folder":  # the whole split folder links out of the root
            shutil.rmtree(root / "images" / "val")
            (root / "images" / "val").symlink_to(secret)
        _exercise(root, "coco")
        out = Path(tmp) / "out"
        with contextlib.suppress(DataprepError):
            formats.convert(root, out, to=to, on_error="collect")
        if out.exists():
            assert not any(p.is_file() and p.read_bytes() == b"SECRET-BYTES" for p in out.rglob("*"))
