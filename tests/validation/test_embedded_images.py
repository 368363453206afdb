"""validate on images that the label files embed (LabelMe's base64 ``imageData``) instead of files beside them.

An embedded image counts as present; its header (and with ``--decode`` its pixels) is read from
the embedded bytes, so a size that disagrees with the labels is ``size-mismatch`` as for a file.
Embedded data that cannot be used (not base64, a decompression bomb) is ``image-unreadable``,
saying why. Where both exist, the file is checked.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from jsonschema import Draft202012Validator
from PIL import Image
from typer.testing import CliRunner

from dataprep import formats
from dataprep.cli import app
from dataprep.validation import validate
from dataprep.validation.schema import load_schema

runner = CliRunner()


def png(width: int, height: int, *, noise: bool = False) -> bytes:
    """A real PNG; with `noise`, random pixels (so that it does not compress away)."""
    buf = io.BytesIO()
    if noise:
        pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(buf, format="PNG")
    else:
        Image.new("RGB", (width, height)).save(buf, format="PNG")
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG signature and IHDR claiming `width` x `height`: a decompression bomb's header."""
    ihdr = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = b"IDAT" + b"\x00" * 8
    data = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr))
    return data + struct.pack(">I", 8) + idat + struct.pack(">I", zlib.crc32(idat))


def labelme_json(
    folder: Path, stem: str, *, data: bytes | str | None, size: tuple[int, int] = (40, 30), image: str = ".png"
) -> Path:
    """A LabelMe json with one box; `data` embedded as base64 (a str is written as is)."""
    text = base64.b64encode(data).decode() if isinstance(data, bytes) else data
    doc = {
        "version": "5.5.0",
        "flags": {},
        "shapes": [
            {
                "label": "cat",
                "points": [[1, 1], [10, 10]],
                "group_id": None,
                "description": "",
                "shape_type": "rectangle",
                "flags": {},
                "mask": None,
            }
        ],
        "imagePath": stem + ".png",
        "imageData": text,
        "imageHeight": size[1],
        "imageWidth": size[0],
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def run_validate(folder: Path, *args: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["validate", str(folder), "--json", *args])
    assert "Traceback" not in result.output
    data = json.loads(result.stdout)
    errors = [e.message for e in Draft202012Validator(load_schema("report")).iter_errors(data)]
    assert errors == [], errors
    return result.exit_code, data


def codes(data: dict) -> list[tuple[str, str]]:
    return [(f["code"], Path(f["file"]).stem) for f in data["findings"]]


def test_embedded_image_is_present(tmp_path: Path) -> None:
    labelme_json(tmp_path, "a", data=png(40, 30))
    exit_code, data = run_validate(tmp_path)
    assert (exit_code, data["findings"]) == (0, [])
    exit_code, data = run_validate(tmp_path, "--decode")
    assert (exit_code, data["findings"]) == (0, [])


def test_embedded_size_mismatch_is_found_as_for_a_file(tmp_path: Path) -> None:
    labelme_json(tmp_path, "embedded", data=png(40, 30), size=(50, 30))
    labelme_json(tmp_path, "file", data=None, size=(50, 30))
    (tmp_path / "file.png").write_bytes(png(40, 30))
    exit_code, data = run_validate(tmp_path)
    assert exit_code == 1
    assert sorted(codes(data)) == [("size-mismatch", "embedded"), ("size-mismatch", "file")]
    messages = {f["message"] for f in data["findings"]}
    assert messages == {"labels say 50x30 but the file is 40x30"}


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ("not base64!!", "not valid base64"),
        (base64.b64encode(b"hello, not an image").decode(), "not an image"),
        (png_header_only(100_000, 100_000), "decompression bomb"),
    ],
    ids=["not-base64", "not-an-image", "bomb"],
)
def test_unusable_embedded_data_is_a_clear_finding(tmp_path: Path, data: bytes | str, problem: str) -> None:
    labelme_json(tmp_path, "a", data=data)
    exit_code, report = run_validate(tmp_path)
    assert exit_code == 1 and codes(report) == [("image-unreadable", "a")]
    message = report["findings"][0]["message"]
    assert "a.json embeds it" in message and problem in message


def test_long_base64_with_broken_padding(tmp_path: Path) -> None:
    # over 64 KiB of text: the header is read from a prefix, the rest fails to decode
    text = base64.b64encode(png(200, 200, noise=True)).decode()
    assert len(text) > 1 << 16
    labelme_json(tmp_path / "src", "a", data=text[:-1], size=(200, 200))
    exit_code, report = run_validate(tmp_path / "src")
    assert exit_code == 1 and codes(report) == [("image-unreadable", "a")]
    assert "not valid base64" in report["findings"][0]["message"]
    # --images copy leaves it out, counted, rather than failing
    written = formats.write(formats.read(tmp_path / "src"), tmp_path / "out", "coco", images="copy")
    assert (written.images_transferred, written.images_missing) == (0, 1)


def test_truncated_embedded_image_is_corrupt_with_decode(tmp_path: Path) -> None:
    data = png(200, 200, noise=True)
    labelme_json(tmp_path, "a", data=data[: len(data) // 2], size=(200, 200))
    assert run_validate(tmp_path)[1]["findings"] == []  # the header is fine
    exit_code, report = run_validate(tmp_path, "--decode")
    assert exit_code == 1 and codes(report) == [("image-corrupt", "a")]


def test_the_file_wins_over_embedded_data(tmp_path: Path) -> None:
    # the file beside the json is what is checked: its size, not the embedded copy's
    labelme_json(tmp_path, "a", data=png(10, 10), size=(40, 30))
    (tmp_path / "a.png").write_bytes(png(40, 30))
    labelme_json(tmp_path, "b", data=png(40, 30), size=(40, 30))
    (tmp_path / "b.png").write_bytes(png(10, 10))
    exit_code, report = run_validate(tmp_path)
    assert exit_code == 1 and codes(report) == [("size-mismatch", "b")]


def test_missing_and_not_embedded_is_still_missing(tmp_path: Path) -> None:
    labelme_json(tmp_path, "a", data=None)
    labelme_json(tmp_path, "b", data="")
    labelme_json(tmp_path, "c", data=png(40, 30))
    exit_code, report = run_validate(tmp_path)
    assert exit_code == 1 and sorted(codes(report)) == [("image-missing", "a"), ("image-missing", "b")]


def test_in_memory_dataset_asks_every_format(tmp_path: Path) -> None:
    labelme_json(tmp_path, "a", data=png(40, 30))
    labelme_json(tmp_path, "b", data=None)
    ds = formats.read(tmp_path)
    report = validate(ds)
    assert sorted(report.findings["code"]) == ["image-missing"]
