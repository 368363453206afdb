"""Differential fuzz tests: the annotation-tool readers' fast paths read exactly as their slow paths.

Each reader has a fast path that declines (falls back to the shape-by-shape path) on anything
unusual: CVAT's `bulk.scan` (regex scan instead of a tree) and its queued plain boxes, LabelMe's
queued plain rectangles/polygons (`_defer_shapes` + `resolve_deferred`), Label Studio's queued
runs of plain rectangles. The reference read has every queue off: the reader's ``parse_rows`` is
replaced by one ``defer=False`` pass. Documents are generated as real exports and hand edits
write them (quoting, white space, entities, odd numbers, odd names, malformed shapes), and every
`load()` outcome is compared: the three tables (`pd.testing.assert_frame_equal`, float columns
bit for bit, so ``-0.0`` and ``0.0`` differ), findings, notes, provenance, or the error raised
(type and message). ``DATAPREP_FUZZ_EXAMPLES=2000`` runs more examples.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

import dataprep.formats.cvat as cvat_pkg
import dataprep.formats.label_studio.parse as ls_parse
import dataprep.formats.labelme as labelme_pkg
from dataprep import formats
from dataprep.errors import InputError
from dataprep.formats._annotation_tools import Collector
from dataprep.formats.cvat import bulk

_EXAMPLES = int(os.environ.get("DATAPREP_FUZZ_EXAMPLES", "0"))


def _settings(n: int) -> settings:
    return settings(
        max_examples=_EXAMPLES or n,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


# -- reading with and without the fast paths, and comparing everything a read gives ------------------


def _one_pass(parse: Callable[[Collector, bool], Any], resolve: Callable[[Any], bool], on_error: str) -> tuple:
    """`parse_rows` without queues: one ``defer=False`` pass (the reference)."""
    collector = Collector(on_error)
    rows = parse(collector, False)
    assert resolve(rows)  # nothing queued: nothing to refuse
    return rows, collector


_PATCHES: dict[str, Callable[[], Any]] = {
    "cvat": lambda: mock.patch.object(cvat_pkg, "parse_rows", _one_pass),
    "cvat-tree": lambda: mock.patch.object(bulk, "scan", lambda data: None),  # queued boxes, no regex scan
    "labelme": lambda: mock.patch.object(labelme_pkg, "parse_rows", _one_pass),
    "label-studio": lambda: mock.patch.object(ls_parse, "parse_rows", _one_pass),
}


def _canon(value: Any) -> Any:
    """A comparable form: floats bit for bit (with their type), arrays as dtype + shape + bytes, NA as a tag."""
    if value is None or value is pd.NA or value is pd.NaT:
        return repr(value)
    if isinstance(value, float | np.floating):
        return (type(value).__name__, struct.pack("<d", float(value)))
    if isinstance(value, np.ndarray):
        return ("ndarray", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, dict):
        return ("dict", tuple((_canon(k), _canon(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(_canon(v) for v in value))
    return (type(value).__name__, value)


def _frame(df: pd.DataFrame | None) -> Any:
    """`df` in a comparable form: columns, dtypes, index and every cell (`_canon`)."""
    if df is None:
        return None
    cells = tuple(_canon(df[c].tolist()) for c in df.columns)
    return (tuple(df.columns), tuple(map(str, df.dtypes)), _canon(df.index.tolist()), cells)


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """The columns of `df` that `assert_frame_equal` compares well (not object: `_frame` compares those)."""
    return df[[c for c in df.columns if df[c].dtype != object]]


def _read(folder: Path, fmt: str, on_error: str) -> Any:
    """Everything `formats.load` gives (result or the error raised)."""
    try:
        return formats.load(folder, fmt, on_error=on_error, provenance=True)
    except Exception as err:  # compared by type and message; a non-InputError is checked below
        return err


def _assert_same(fast: Any, slow: Any) -> None:
    if isinstance(slow, Exception) or isinstance(fast, Exception):
        assert (type(fast), str(fast)) == (type(slow), str(slow))
        assert getattr(fast, "record", None) == getattr(slow, "record", None)
        return
    for table in ("images", "annotations", "categories"):
        a, b = getattr(fast.dataset, table), getattr(slow.dataset, table)
        pd.testing.assert_frame_equal(_typed(a), _typed(b), check_exact=True)
        assert _frame(a) == _frame(b), table  # object columns, and floats bit for bit
    for table in ("image_sources", "annotation_sources"):
        a, b = getattr(fast, table), getattr(slow, table)
        pd.testing.assert_frame_equal(a, b, check_exact=True)
        assert _frame(a) == _frame(b), table
    assert [f.to_dict() for f in fast.findings] == [f.to_dict() for f in slow.findings]
    assert fast.notes == slow.notes
    assert fast.format == slow.format


_RESOLVERS = {"cvat": cvat_pkg, "labelme": labelme_pkg, "label-studio": ls_parse}


def _read_fast(folder: Path, fmt: str, on_error: str) -> Any:
    """`_read`, telling hypothesis (``event``) whether the queued pass had anything and kept it."""
    module = _RESOLVERS[fmt]
    resolve = module.resolve_deferred
    seen = []

    def spy(rows: Any) -> bool:
        ok = resolve(rows)
        seen.append((bool(rows.deferred_rows) or bool(getattr(rows, "scanned", None)), ok))
        return ok

    with mock.patch.object(module, "resolve_deferred", spy):
        result = _read(folder, fmt, on_error)
    if on_error == "collect" and seen and currently_in_test_context():
        queued, kept = seen[0]
        event(f"{fmt}: queued pass {'kept' if kept and queued else 'declined' if queued else 'empty'}")
    return result


def _check_alike(folder: Path, fmt: str, variants: tuple[str, ...]) -> None:
    """Read `folder` fast and with each fast path off, in both error modes: the same outcome."""
    for on_error in ("raise", "collect"):
        fast = _read_fast(folder, fmt, on_error)
        with _PATCHES[fmt]():
            slow = _read(folder, fmt, on_error)
        assert not isinstance(slow, Exception) or isinstance(slow, InputError), repr(slow)
        _assert_same(fast, slow)
        for variant in variants:
            with _PATCHES[variant]():
                _assert_same(_read(folder, fmt, on_error), slow)


@contextlib.contextmanager
def _folder(files: dict[str, bytes]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="fastpath-") as tmp:
        root = Path(tmp)
        for name, data in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        yield root


# -- shared pieces: how odd a document is, numbers as written, labels, names -----------------------

_ODDNESS = st.sampled_from([0, 0, 0, 4, 4, 15, 40])  # percent of decisions that pick something odd; 0: clean


def _odd(draw: st.DrawFn, p: int) -> bool:
    """One decision of a document with oddness `p`: True means "pick something unusual here"."""
    return p > 0 and draw(st.integers(0, 99)) < p


_CLEAN_NUMBERS = st.one_of(
    st.integers(-5, 640).map(str),
    st.floats(-10, 700, allow_nan=False).map(repr),
    st.sampled_from(["1e3", "1E-3", "-0", "-0.0", "0", "0.0", "1.5e2", "123456789012345678901234567890", "1e-320"]),
)
_XML_NUMBERS = st.sampled_from(
    ["+1", ".5", "1.", "01", "-0", "1e308", "1e309", "4.9e-324", " 2", "2 ", "nan", "NaN", "inf", "-inf", "1_0",
     "1.2.3", "", "x", "0x10", "\u0661\u0662", "e", "-", "+-1", "1e", "12\u00a0", "1e-400"]
)  # fmt: skip
_ODD_LABELS = st.one_of(
    st.sampled_from(["", " ", "a&b", "x<y", 'q"q', "q'q", "\u4e2d", "A&#", "tab\there", "nl\nhere", "\x7f"]),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6),
)
_LABELS = st.sampled_from(["cat", "dog", "cat", "traffic light", "été", "7"])
_SAFE_NAMES = st.sampled_from(["a.jpg", "b.png", "sub/c.jpg", "a b.jpg", "é.jpg", "x" * 300 + ".jpg", "a.jpg", "d.JPG"])
_ODD_NAMES = st.one_of(
    st.sampled_from(
        ["./d.jpg", "../x.jpg", "/abs.jpg", "C:/w.jpg", "c:w.jpg", "a//e.jpg", "sub\\f.jpg", "", ".", "dir/",
         "a/./b.jpg", "a/../b.jpg", "..", "a\x00.jpg", "?d=x.jpg", " a.jpg", "a.jpg "]
    ),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=8).map(lambda s: s + ".jpg"),
)  # fmt: skip


# -- CVAT ------------------------------------------------------------------------------------------

_S = st.sampled_from([" ", " ", " ", "  ", "\n", "\n  ", "\t", "\r\n", " \n\t"])
_BETWEEN = st.sampled_from(["\n", "\n  ", "<!-- c -->", "<?pi x?>", " text ", "&#32;", "<![CDATA[ ]]>", "&#10;"])


def _xml_text(text: str, quote: str, references: bool) -> str:
    """`text` as an attribute value in `quote`: markup escaped, with `references` some characters as ``&#..;``."""
    out = text.replace("&", "&amp;").replace("<", "&lt;").replace(quote, "&quot;" if quote == '"' else "&apos;")
    if references:
        out = "".join(f"&#{ord(c)};" if ord(c) > 127 else ("&#x41;" if c == "A" else c) for c in out)
    return "".join(c if c >= " " or c in "\t\n\r" else f"&#{ord(c)};" for c in out if c != "\x00")


@st.composite
def _attributes(draw: st.DrawFn, pairs: list[tuple[str, str]], p: int) -> str:
    """`pairs` as XML attributes; odd: shuffled, ' quotes, ``=`` spaced, references, white space."""
    if _odd(draw, p):
        pairs = draw(st.permutations(pairs))
    out = []
    for name, value in pairs:
        quote = "'" if _odd(draw, p) else '"'
        eq = draw(st.sampled_from([" =", "= ", " = ", "=\n"])) if _odd(draw, p) else "="
        space = draw(_S) if _odd(draw, 4 * p) else " "
        out.append(f"{space}{name}{eq}{quote}{_xml_text(value, quote, _odd(draw, p))}{quote}")
    return "".join(out)


@st.composite
def _box(draw: st.DrawFn, p: int, labels: st.SearchStrategy[str]) -> str:
    """A ``<box>`` as CVAT writes it (label, [source], occluded, [z_order], xtl..ybr, [z_order]), maybe odd."""
    coords = [draw(_XML_NUMBERS if _odd(draw, p // 2) else _CLEAN_NUMBERS) for _ in range(4)]
    pairs = [("label", draw(_ODD_LABELS if _odd(draw, p) else labels))]
    if draw(st.booleans()):
        pairs.append(("source", draw(st.sampled_from(["manual", "auto", "", "semi-auto", "file"]))))
    pairs.append(("occluded", draw(st.sampled_from(["1", "", "true", "00"])) if _odd(draw, p) else "0"))
    z_first = draw(st.booleans())
    z = ("z_order", draw(st.sampled_from(["1", "-2", "", "00", " 0"])) if _odd(draw, p) else "0")
    if z_first:
        pairs.append(z)
    pairs += list(zip(("xtl", "ytl", "xbr", "ybr"), coords, strict=True))
    if not z_first:
        pairs.append(z)
    if _odd(draw, p):
        pairs.append(
            draw(
                st.sampled_from(
                    [("rotation", "0"), ("rotation", "30.5"), ("rotation", ""), ("rotation", "360"), ("group_id", "3"),
                     ("group_id", "0"), ("keyframe", "1"), ("label", "dup"), ("xtl", "9"), ("outside", "0"),
                     ("z_order", "0")]
                )
            )
        )  # fmt: skip
    if _odd(draw, p):
        del pairs[draw(st.integers(0, len(pairs) - 1))]
    ends = ["/>", "></box>", " />", "/>", ">\n  </box>", "></box >", "\n/>"]
    end = draw(st.sampled_from(ends[:4] if not _odd(draw, p) else ends))
    if _odd(draw, p // 2):
        end = draw(st.sampled_from(['><attribute name="a">v</attribute></box>', "><!-- c --></box>", ">x</box>"]))
    return f"<box{draw(_attributes(pairs, p))}{end}"


_OTHER_SHAPES = st.sampled_from(
    ['<polygon label="cat" occluded="0" points="0,0;10,0;10,10" z_order="0"/>',
     '<polygon label="cat" points="0,0;1,1"/>', '<tag label="dog" source="manual"/>',
     '<points label="cat" points="1,2"/>', '<ellipse label="cat" cx="1" cy="1" rx="1" ry="1"/>',
     '<polyline label="" points="1,2;3,4"/>', "<unknown/>",
     '<box label="cat" occluded="1" xtl="1" ytl="2" xbr="3" ybr="4"/>']
)  # fmt: skip


@st.composite
def _image(draw: st.DrawFn, k: int, p: int, labels: st.SearchStrategy[str]) -> str:
    pairs = [("id", str(k)), ("name", draw(_ODD_NAMES if _odd(draw, p) else _SAFE_NAMES))]
    if not _odd(draw, p):
        width = (
            draw(st.sampled_from(["0", "-1", "x", " 480", "1e3", "01", "+5", "", "99999999999999999999"]))
            if _odd(draw, p)
            else "640"
        )
        pairs += [("width", width), ("height", "480")]
    if draw(st.integers(0, 3)) == 0:
        pairs.append(("subset", draw(st.sampled_from(["Train", "Validation", "test", "", "mine", "default"]))))
    if draw(st.integers(0, 5)) == 0:
        pairs.append(("task_id", draw(st.sampled_from(["1", "2"]))))
    if _odd(draw, p):
        pairs.append(draw(st.sampled_from([("name", "dup.jpg"), ("xmlns", "urn:x"), ("extra", "1"), ("a.b-c", ""),
                                           ("x:y", "1"), ("é", "1"), ("xmlns:q", "urn:q")])))  # fmt: skip
    if draw(st.integers(0, 3)) == 0:
        pairs = draw(st.permutations(pairs))  # any order: the scan reads image attributes by name
    shapes = [draw(_OTHER_SHAPES) if _odd(draw, p) else draw(_box(p, labels)) for _ in range(draw(st.integers(0, 4)))]
    attributes = draw(_attributes(pairs, p))
    if not shapes and draw(st.booleans()):
        return f"<image{attributes}" + draw(st.sampled_from(["/>", " />", "></image>", ">\n  </image>"]))
    inner = "".join(draw(st.sampled_from(["", "\n    ", " "])) + s for s in shapes)
    if _odd(draw, p):
        inner += draw(_BETWEEN)
    close = "</image >" if _odd(draw, p // 2) else "</image>"
    return f"<image{attributes}>{inner}{draw(st.sampled_from(['', chr(10) + '  ']))}{close}"


_META = (
    "<meta><task><id>1</id><name>t</name><subset>{subset}</subset><labels>"
    "<label><name>cat</name><color>#ff0000</color><attributes/></label>"
    "<label><name>dog</name><attributes></attributes></label>"
    "<label><name>spec</name><attributes><attribute><name>a</name><input_type>text</input_type>"
    "<default_value>d</default_value><values>d</values></attribute></attributes></label>"
    "</labels></task></meta>"
)


@st.composite
def cvat_documents(draw: st.DrawFn) -> bytes:
    """A CVAT for images 1.1 xml: plain boxes as CVAT writes them, with more or fewer odd parts mixed in."""
    p = draw(_ODDNESS)
    labels = st.sampled_from(["cat", "dog", "spec"]) if _odd(draw, p) else _LABELS
    encoding = draw(st.sampled_from(["iso-8859-1", "ascii", "utf-16", "latin-1"])) if _odd(draw, p) else None
    encoding = encoding or draw(st.sampled_from([None, None, "utf-8", "UTF-8", "utf8"]))
    head = ""
    if encoding is not None or draw(st.booleans()):
        quote = "'" if _odd(draw, p) else '"'
        enc = f" encoding={quote}{encoding}{quote}" if encoding else ""
        standalone = ' standalone="yes"' if _odd(draw, p) else ""
        head = f"<?xml version={quote}1.0{quote}{enc}{standalone}?>" + draw(st.sampled_from(["\n", "", "\r\n"]))
    head += "<annotations>" + draw(st.sampled_from(["\n  ", "", " "])) + "<version>1.1</version>"
    if draw(st.integers(0, 3)):
        head += draw(st.sampled_from(["\n  ", ""])) + _META.format(subset=draw(st.sampled_from(["", "Train", "x"])))
    head += draw(_BETWEEN) if _odd(draw, p) else "\n  "
    images = [draw(_image(k, p, labels)) for k in range(draw(st.integers(1, 5)))]
    body = "".join(image + (draw(_BETWEEN) if _odd(draw, p) else "\n  ") for image in images)
    tail = "</annotations>" + draw(st.sampled_from(["", "\n", "\n\n "]))
    if _odd(draw, p):
        tail = draw(st.sampled_from(["</annotations><!-- end -->", "</annotations> x", "", "</annotations></x>"]))
    codec = {None: "utf-8", "utf8": "utf-8", "UTF-8": "utf-8"}.get(encoding, encoding)
    data = (head + body + tail).encode(codec or "utf-8", errors="xmlcharrefreplace")
    if codec == "utf-8" and _odd(draw, p):
        data = b"\xef\xbb\xbf" + data
    return data


@_settings(150)
@given(st.lists(cvat_documents(), min_size=1, max_size=2))
def test_cvat_bulk_scan_and_queued_boxes_read_like_the_tree(documents: list[bytes]) -> None:
    # one annotations.xml, or train.xml + val.xml (a scanned file's boxes and a tree's queued ones in one read)
    for document in documents:
        event(f"cvat: bulk scan {'taken' if bulk.scan(document) else 'declined'}")
    names = ["annotations.xml"] if len(documents) == 1 else ["train.xml", "val.xml"]
    with _folder({**dict(zip(names, documents, strict=True)), "images/Train/a.jpg": b""}) as folder:
        _check_alike(folder, "cvat", ("cvat-tree",))


# -- LabelMe ---------------------------------------------------------------------------------------


class _Raw(str):
    """A JSON token written as is (``1e3``, ``-0``...)."""


def _json(value: Any) -> str:
    """`value` as JSON text; `_Raw` tokens verbatim, dict keys in their order."""
    if isinstance(value, _Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_json(str(k))}: {_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(map(_json, value)) + "]"
    return json.dumps(value, ensure_ascii=False)


_JSON_NUMBERS = _CLEAN_NUMBERS.map(_Raw)
_JSON_ODD_NUMBERS = st.sampled_from(
    ["1e308", "1.7976931348623157e308", "4.9e-324", "18446744073709551615", "-9223372036854775809", "1e-400",
     "-1e-400", "1E+2", "99999999999999999999999999"]
).map(_Raw)  # fmt: skip
_JSON_BAD_TOKENS = st.sampled_from(["01", "+1", ".5", "1.", "NaN", "Infinity", "1e400", "-1e400"]).map(_Raw)
_JSON_ODD = st.sampled_from([True, False, None, "1", "x", "", [], [1], {"x": 1}, "nan", " 2", "1_0"])


def _number(draw: st.DrawFn, p: int) -> Any:
    if _odd(draw, p // 4):
        return draw(_JSON_BAD_TOKENS if _odd(draw, 20) else _JSON_ODD)
    return draw(_JSON_ODD_NUMBERS if _odd(draw, p) else _JSON_NUMBERS)


@st.composite
def _points(draw: st.DrawFn, n: int, p: int) -> Any:
    if _odd(draw, p // 4):
        return draw(st.sampled_from([None, "[[1,2],[3,4]]", {}, 7, [[[1, 2], [3, 4]]], [], [[]]]))
    points = []
    for _ in range(n):
        if _odd(draw, p // 4):
            odd = [[1], [1, 2, 3], "12", {"x": 1, "y": 2}, [[1, 2]], None, [True, False], 5, "ab", []]
            points.append(draw(st.sampled_from(odd)))
        else:
            points.append([_number(draw, p), _number(draw, p)])
    return points


@st.composite
def _shape(draw: st.DrawFn, p: int) -> dict[str, Any]:
    kind: Any = draw(st.sampled_from(["rectangle", "polygon", "rectangle", None, "", "polygon"]))
    if _odd(draw, p):
        kind = draw(
            st.sampled_from(["circle", "line", "linestrip", "point", "points", "mask", "Rectangle", "ellipse", 5, [],
                             False, {"a": 1}])
        )  # fmt: skip
    n = 2 if kind == "rectangle" else draw(st.integers(3, 6))
    if _odd(draw, p):
        n = draw(st.integers(0, 4))
    shape: dict[str, Any] = {"label": draw(_LABELS)}
    shape["points"] = draw(_points(n, p))
    if draw(st.integers(0, 4)):
        shape["group_id"] = None
    if draw(st.integers(0, 4)):
        shape["shape_type"] = kind
    if draw(st.integers(0, 3)):
        shape["flags"] = draw(st.sampled_from([{}, {}, None, [], 0, ""]))
    if draw(st.integers(0, 3)) == 0:
        shape["description"] = draw(st.sampled_from(["", None, 0]))
    if draw(st.integers(0, 5)) == 0:
        shape["mask"] = None
    if draw(st.integers(0, 5)) == 0:
        shape["other"] = draw(st.sampled_from([1, {"nested": [1]}, "x"]))
    for key, values in {
        "label": [None, 3, "__ignore__", "_background_", "\u4e2d", "", " ", ["cat"]],
        "group_id": [1, 2, "1", 0, False],
        "flags": [{"occluded": True}, {"a": False}, "x", [1], {"a": 1}],
        "description": ["note", 5, [1]],
        "mask": ["abc"],
    }.items():
        if _odd(draw, p // 2):
            shape[key] = draw(st.sampled_from(values))
    if _odd(draw, p // 2):
        del shape["points" if draw(st.booleans()) else "label"]
    items = list(shape.items())
    if draw(st.integers(0, 3)) == 0:
        items = draw(st.permutations(items))
    return dict(items)


@st.composite
def labelme_documents(draw: st.DrawFn) -> dict[str, bytes]:
    """A folder of LabelMe json files: plain rectangles and polygons, with more or fewer odd shapes mixed in."""
    files: dict[str, bytes] = {}
    stems = draw(st.lists(st.sampled_from(["a", "b", "c", "sub/d", "e f", "é"]), min_size=1, max_size=4, unique=True))
    for stem in stems:
        p = draw(_ODDNESS)
        doc: dict[str, Any] = {"version": "5.4.1", "flags": draw(st.sampled_from([{}, {}, {"day": True, "x": False}]))}
        doc["shapes"] = [draw(_shape(p)) for _ in range(draw(st.integers(0, 5)))]
        if _odd(draw, p // 2):
            doc["shapes"].insert(0, draw(st.sampled_from(["x", None, 5, [], {}])))
        image_paths = [f"{stem.rpartition('/')[2]}.jpg", "../x.jpg", "/abs/x.jpg", None, "..\\y.png", "z.jpg", 5]
        doc["imagePath"] = draw(st.sampled_from(image_paths)) if _odd(draw, p) else image_paths[0]
        doc["imageData"] = None
        if not _odd(draw, p):
            doc["imageHeight"] = (
                draw(st.sampled_from([480, 0, -1, "480", None, 1.5, True, _Raw("18446744073709551615")]))
                if _odd(draw, p)
                else 480
            )
            doc["imageWidth"] = 640
        if draw(st.integers(0, 5)) == 0:
            doc["otherKey"] = {"k": [1, 2]}
        items = list(doc.items())
        if draw(st.integers(0, 3)) == 0:
            items = draw(st.permutations(items))
        text = _json(dict(items))
        if _odd(draw, p // 4):
            text = text[: draw(st.integers(0, len(text)))]  # truncated
        files[f"{stem}.json"] = text.encode()
    if draw(st.integers(0, 4)) == 0:
        files["labels.txt"] = b"__ignore__\n_background_\ndog\ncat\n"
    return files


@_settings(150)
@given(labelme_documents())
def test_labelme_queued_shapes_read_like_shape_by_shape(files: dict[str, bytes]) -> None:
    with _folder(files) as folder:
        _check_alike(folder, "labelme", ())


# -- Label Studio ----------------------------------------------------------------------------------

_SAFE_URLS = st.sampled_from(
    ["/data/local-files/?d=img/a.jpg", "/data/local-files/?d=img%2Fb.jpg", "/data/upload/3/1a2b3c4d-c.jpg",
     "http://host/x/d.jpg?sig=1", "s3://bucket/e.png", "img/a.jpg", "  a.jpg ", "a.jpg", "C:\\pics\\f.jpg",
     "./g.jpg", "a//h.jpg", "/abs.jpg", "gs://b/%C3%A9.jpg"]
)  # fmt: skip
_ODD_URLS = st.one_of(
    st.sampled_from(["../up.jpg", "/data/local-files/?d=../x.jpg", "/data/local-files/?d=%2E%2E/y.jpg", "", "   ",
                     "/data/local-files/?d=", "/data/local-files/?d=a%00.jpg", "http://h/", "?d=C:/x.jpg"]),
    _ODD_NAMES,
)  # fmt: skip


@st.composite
def _rectangle(draw: st.DrawFn, p: int) -> dict[str, Any]:
    value: dict[str, Any] = {k: _number(draw, p) for k in ("x", "y", "width", "height")}
    value["rotation"] = draw(st.sampled_from([0, 0, _Raw("0.0"), None, False, _Raw("-0")]))
    if _odd(draw, p):
        value["rotation"] = draw(st.sampled_from([30, 360, -90, "0", "", _Raw("1e-9"), True, "x", [], _Raw("1e308")]))
    labels: Any = [draw(_LABELS)]
    if _odd(draw, p):
        labels = draw(st.sampled_from([["cat", "dog"], [], "cat", [3], ["cat", 3], [3, "cat"], [None], None, [""]]))
    value["rectanglelabels"] = labels
    result: dict[str, Any] = {"id": "r", "type": "rectanglelabels", "from_name": "label", "to_name": "image"}
    width = draw(st.sampled_from([0, -5, 1.5, "640", None, True, _Raw("1e308"), _Raw("-0")])) if _odd(draw, p) else 640
    size = [
        ("original_width", width),
        ("original_height", 480 if not _odd(draw, p) else draw(st.sampled_from([0, 2.5]))),
    ]
    where = draw(st.sampled_from(["result", "result", "value", "both"])) if not _odd(draw, p) else "none"
    if where in ("result", "both"):
        result.update(size)
    if where in ("value", "both"):
        value.update(size if where == "value" else [("original_width", 320)])
    if _odd(draw, p):
        del value[draw(st.sampled_from(["x", "y", "width", "height", "rotation", "rectanglelabels"]))]
    if draw(st.integers(0, 6)) == 0:
        value["unit"] = draw(st.sampled_from(["%", "px"]))
    result["value"] = value
    if _odd(draw, p):
        result["type"] = draw(st.sampled_from(["RectangleLabels", "rectangle", None, 5]))
    if _odd(draw, p // 2):
        result["value"] = draw(st.sampled_from([None, [], "v"]))
    return result


_OTHER_RESULTS = st.sampled_from(
    [{"type": "choices", "value": {"choices": ["day"]}},
     {"type": "choices", "original_width": 100, "original_height": 50, "value": {"choices": ["night", "day"]}},
     {"type": "polygonlabels", "original_width": 640, "original_height": 480,
      "value": {"points": [[1, 2], [30, 4], [5, 60]], "polygonlabels": ["cat"]}},
     {"type": "keypointlabels", "original_width": 640, "original_height": 480,
      "value": {"x": 10, "y": 20, "keypointlabels": ["dog"]}},
     {"type": "textarea", "value": {"text": ["hi"]}}, {"type": "rectanglelabels"}, "not a result",
     {"type": "polygonlabels", "value": {"points": [[1, 2]], "polygonlabels": ["cat"]}}]
)  # fmt: skip


@st.composite
def _task(draw: st.DrawFn, k: int, p: int) -> dict[str, Any]:
    results = [draw(_OTHER_RESULTS) if _odd(draw, p) else draw(_rectangle(p)) for _ in range(draw(st.integers(0, 5)))]
    annotation: dict[str, Any] = {"id": k, "result": results}
    if draw(st.integers(0, 6)) == 0:
        annotation["was_cancelled"] = draw(st.booleans())
    annotations: list[Any] = [annotation]
    if draw(st.integers(0, 6)) == 0:
        annotations.append(draw(st.sampled_from([{"result": []}, {"result": None}, "x", {"result": {"a": 1}}])))
    data: Any = {"image": draw(_ODD_URLS if _odd(draw, p) else _SAFE_URLS)}
    if _odd(draw, p // 2):
        data = draw(st.sampled_from([{"img": "a.jpg", "text": "hi"}, {}, None, {"image": 5}]))
    task: dict[str, Any] = {"id": k, "data": data, "annotations": annotations}
    if draw(st.integers(0, 5)) == 0:
        task["predictions"] = [{"result": []}]
    return task


@st.composite
def label_studio_documents(draw: st.DrawFn) -> dict[str, bytes]:
    """A Label Studio full export: runs of plain rectangles, with more or fewer odd results and names mixed in."""
    p = draw(_ODDNESS)
    tasks: list[Any] = [draw(_task(k, p)) for k in range(1, draw(st.integers(1, 5)) + 1)]
    if draw(st.integers(0, 9)) == 0:  # JSON-MIN: not queued, but its image names are checked at the end too
        tasks = [{"id": t["id"], "image": t["data"].get("image") if isinstance(t["data"], dict) else None,
                  "label": [r["value"] for r in t["annotations"][0]["result"] if isinstance(r, dict) and "value" in r]}
                 for t in tasks]  # fmt: skip
    if _odd(draw, p // 2):
        tasks.append(draw(st.sampled_from(["x", 3, {"image": "m.jpg", "label": [{"rectanglelabels": ["cat"]}]}])))
    files = {"tasks.json": _json(tasks).encode()}
    if draw(st.integers(0, 4)) == 0:
        files["label_config.xml"] = (
            b'<View><Image name="image" value="$image"/><RectangleLabels name="label" toName="image">'
            b'<Label value="dog"/><Label value="cat"/></RectangleLabels></View>'
        )
    return files


@_settings(150)
@given(label_studio_documents())
def test_label_studio_queued_rectangles_read_like_result_by_result(files: dict[str, bytes]) -> None:
    with _folder(files) as folder:
        _check_alike(folder, "label-studio", ())


# -- what the fuzzing found, pinned ----------------------------------------------------------------

_CVAT_BOX = '<box label="{label}" occluded="0" xtl="1" ytl="2" xbr="3" ybr="4" z_order="0"/>'


@pytest.mark.parametrize("label", ["cat", "\u00e9t\u00e9"])
@pytest.mark.parametrize("encoding", ["utf8", "UTF8", "utf-8", "UTF-8"])
def test_cvat_declared_encoding_utf8_reads_as_the_tree_reads_it(tmp_path: Path, encoding: str, label: str) -> None:
    # expat knows "utf-8" but reads "utf8" as a one-byte encoding: non-ASCII text is "not well-formed".
    # The bulk scan read such a file as UTF-8 (a dataset where the tree raises); now it leaves it to the tree.
    text = f'<?xml version="1.0" encoding="{encoding}"?>\n<annotations><version>1.1</version>\n'
    text += (
        f'<image id="0" name="a.jpg" width="640" height="480">{_CVAT_BOX.format(label=label)}</image>\n</annotations>'
    )
    (tmp_path / "annotations.xml").write_bytes(text.encode())
    assert (bulk.scan(text.encode()) is not None) == (encoding.lower() == "utf-8")
    _check_alike(tmp_path, "cvat", ("cvat-tree",))
    if encoding.lower() == "utf8" and not label.isascii():
        with pytest.raises(InputError, match="malformed XML"):
            formats.load(tmp_path, "cvat")


def _labelme_file(shapes: str, image: str = "a.jpg") -> bytes:
    return (
        f'{{"version": "5.4.1", "flags": {{}}, "shapes": [{shapes}], "imagePath": "{image}", "imageData": null, '
        '"imageHeight": 480, "imageWidth": 640}'
    ).encode()


def test_labelme_rectangle_of_zero_and_negative_zero_reads_as_shape_by_shape(tmp_path: Path) -> None:
    # Python's min/max of two points keep the first of 0.0 and -0.0, numpy's reduceat the second: the
    # queued pass gave y_min = -0.0 where shape by shape gives 0.0 (written out as "-0.0"); now it declines
    (tmp_path / "a.json").write_bytes(
        _labelme_file('{"label": "cat", "points": [[0, 0], [5, -0.0]], "shape_type": "rectangle"}')
    )
    _check_alike(tmp_path, "labelme", ())
    boxes = formats.load(tmp_path, "labelme").dataset.annotations[["x_min", "y_min", "x_max", "y_max"]].to_numpy()
    assert boxes.tolist() == [[0.0, 0.0, 5.0, 0.0]]
    assert not np.signbit(boxes).any()


def test_labelme_first_error_in_file_order_is_raised(tmp_path: Path) -> None:
    # a polygon of 2 points was queued and only refused at the end, so under on_error="raise" a later
    # file's error was raised first (shape by shape: the polygon's, in b.json)
    (tmp_path / "a.json").write_bytes(_labelme_file(""))
    (tmp_path / "b.json").write_bytes(_labelme_file('{"label": "cat", "points": [[0, 0], [1, 1]]}', "b.jpg"))
    (tmp_path / "c.json").write_bytes(_labelme_file('"not a shape"', "c.jpg"))
    _check_alike(tmp_path, "labelme", ())
    with pytest.raises(InputError, match="a polygon needs at least 3 points") as info:
        formats.load(tmp_path, "labelme")
    assert info.value.record == "shapes[0].points"
    assert "b.json" in str(info.value)


@pytest.mark.parametrize("points", ["[[1e308, 0], [-1e308, 0]]", "[[0, 0], [1e9, 0]]"])
def test_labelme_circle_of_huge_radius_is_a_finding(tmp_path: Path, points: str) -> None:
    # the radius overflowed to inf (OverflowError from int(inf)) or asked for a polygon of 1e8+ points
    (tmp_path / "a.json").write_bytes(_labelme_file(f'{{"label": "cat", "points": {points}, "shape_type": "circle"}}'))
    _check_alike(tmp_path, "labelme", ())
    result = formats.load(tmp_path, "labelme", on_error="collect")
    assert [f.record for f in result.findings] == ["shapes[0].points"]
    assert "radius" in result.findings[0].message


_HUGE_SIZES = {
    "cvat": (
        "annotations.xml",
        '<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1</version>\n<image id="0" name="a.jpg" '
        'width="99999999999999999999" height="480">' + _CVAT_BOX.format(label="cat") + "</image>\n</annotations>",
    ),
    "labelme": (
        "a.json",
        '{"shapes": [{"label": "cat", "points": [[1, 2], [3, 4]], "shape_type": "rectangle"}], "imagePath": "a.jpg", '
        '"imageData": null, "imageHeight": 480, "imageWidth": 18446744073709551615}',
    ),
    "label-studio": (
        "tasks.json",
        '[{"id": 1, "data": {"image": "a.jpg"}, "annotations": [{"result": [{"type": "rectanglelabels", '
        '"original_width": 1e308, "original_height": 480, "value": {"x": 1, "y": 2, "width": 3, "height": 4, '
        '"rectanglelabels": ["cat"]}}]}]}]',
    ),
}


@pytest.mark.parametrize("fmt", list(_HUGE_SIZES))
def test_an_image_size_past_int64_is_unknown_not_a_crash(tmp_path: Path, fmt: str) -> None:
    # the Int64 width column could not hold it: OverflowError/TypeError from the images table, fast path or not
    name, text = _HUGE_SIZES[fmt]
    (tmp_path / name).write_text(text, encoding="utf-8")
    _check_alike(tmp_path, fmt, ())
    images = formats.load(tmp_path, fmt, on_error="collect").dataset.images
    assert images["width"].isna().all()
