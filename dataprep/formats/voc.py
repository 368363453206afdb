"""Pascal VOC: one ``Annotations/<id>.xml`` per image, ``ImageSets/Main/<split>.txt`` id lists,
images in ``JPEGImages/`` and an optional Datumaro/CVAT ``labelmap.txt``.

Coordinates: VOC boxes are 1-based inclusive pixel indices. Reading applies
`boxes.voc_to_xyxy` (x_min = xmin - 1, x_max = xmax, as detectron2's
``data/datasets/pascal_voc.py`` states); writing applies `boxes.xyxy_to_voc` and rounds to whole
pixels (reported as ``coordinates-rounded``). A full-image box ``1, 1, W, H`` is xyxy ``0, 0, W, H``.

Per-object extras go to ``annotations.attributes`` (None when there are none):

- ``difficult``, ``truncated``, ``occluded``: bool (``0``/``1`` in the file; other integers
  stay int, other text stays str). VOC's defaults (0, and ``pose`` ``Unspecified``) are *not*
  stored, so only meaningful flags travel to other formats; the writer writes the defaults back.
- ``pose``: str, when not ``Unspecified``.
- ``parts``: list of ``{"name", "x_min", "y_min", "x_max", "y_max"}`` (continuous xyxy like the
  boxes, coordinates kept unrounded), from ``<part>`` sub-boxes (e.g. a person's head).
- ``actions``: dict of action name -> bool flag, from ``<actions>`` (VOC action task).
- CVAT ``<attributes><attribute><name>k</name><value>v</value>`` and any other leaf element
  of ``<object>`` (``<score>``, ``<id>``...): ``k: v`` at the top level, with ``true``/``false``
  read as bool and numbers as int/float; the writer puts them all back as CVAT attributes.

Images: a ``<size>`` of width/height > 0 is trusted; otherwise the header of the image file is
read when the file exists (`files.probe_image`), else the size is ``<NA>`` (noted). A ``<depth>``
other than 3 is kept in ``images.attributes["depth"]``.

Security: XML with a DOCTYPE or ENTITY declaration is refused before parsing (entity expansion
"billion laughs", external entities); VOC never needs one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from dataprep import boxes
from dataprep.dataset import BOX_COLUMNS, Dataset
from dataprep.errors import Finding, InputError, UsageError
from dataprep.files import IMAGE_SUFFIXES, check_member, probe_image, safe_join
from dataprep.formats.base import (
    MAX_EXAMPLES,
    Capabilities,
    FormatSpec,
    Loss,
    OnError,
    ReadResult,
    WriteReport,
    image_layout,
    place_images,
    plan_losses,
)

CAPABILITIES = Capabilities(
    boxes=True,
    attributes=True,  # difficult/truncated/occluded/pose, parts, actions, CVAT attributes
    float_coordinates=False,
    splits=True,
)

ANNOTATIONS_DIR = "Annotations"
IMAGES_DIR = "JPEGImages"
SPLITS_DIR = "ImageSets/Main"
LABELMAP = "labelmap.txt"
NO_SPLIT = "default"  # Datumaro's name for "no subset": read back as no split
FLAGS = ("truncated", "difficult", "occluded")
_RESERVED = frozenset({*FLAGS, "pose", "parts", "actions"})
_STANDARD_SPLITS = ("train", "val", "test", "trainval")
_BOX_FIELDS = ("xmin", "ymin", "xmax", "ymax")
_BOX_INDEX = {name: i for i, name in enumerate(_BOX_FIELDS)}
# A member path that needs no normalising and cannot escape: segments not "", "." or "..",
# no backslash or colon. Anything else goes through `files.check_member`/`safe_join`.
_PLAIN_MEMBER_RE = re.compile(r"(?!\.{0,2}(?:/|\Z))[^/\\:\r\n]+(?:/(?!\.{0,2}(?:/|\Z))[^/\\:\r\n]+)*\Z")
_PART_KEYS = ("name", *BOX_COLUMNS)
# Unsafe XML markers in the encodings expat reads natively (ASCII-compatible ones and UTF-16).
_UNSAFE_MARKERS = tuple(
    marker.encode(enc) for marker in ("<!DOCTYPE", "<!ENTITY") for enc in ("utf-8", "utf-16-le", "utf-16-be")
)
_INT_RE = re.compile(r"[+-]?\d+\Z")
_FLOAT_RE = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?\Z")
_CLASS_LIST_RE = re.compile(r"\S+\s+[+-]?\d+\s*\Z")  # "2007_000001  1": a per-class file line
_XML_INVALID_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_NEEDS_ESCAPE_RE = re.compile("[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# --------------------------------------------------------------------------------------------
# detect


def _root_tag(path: Path) -> str | None:
    """The root element name of an xml file, from its first few KB (comments skipped)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    head = re.sub(rb"<!--.*?-->", b"", head, flags=re.DOTALL)
    match = re.search(rb"<(?![?!])([A-Za-z_][\w.:-]*)", head)
    return match.group(1).decode("ascii", "replace") if match else None


def _first_xml(folder: Path, *, limit: int = 50) -> Path | None:
    try:
        with os.scandir(folder) as it:
            for i, entry in enumerate(it):
                if i >= limit:
                    break
                name = entry.name
                if name.lower().endswith(".xml") and not name.startswith(".") and entry.is_file():
                    return Path(entry.path)
    except OSError:
        return None
    return None


def _has_voc_annotations(folder: Path) -> bool:
    ann = folder / ANNOTATIONS_DIR
    if not ann.is_dir():
        return False
    first = _first_xml(ann)
    if first is None:  # labels in sub-folders, or an unlabelled dataset with split lists
        return (folder / SPLITS_DIR).is_dir() or any(p.is_dir() for p in ann.iterdir())
    return _root_tag(first) == "annotation"


def _child_datasets(path: Path) -> list[Path]:
    """Sub-folders that are VOC datasets (``VOCdevkit/VOC2007``)."""
    try:
        subs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []
    return [p for p in subs if _has_voc_annotations(p)]


def detect(path: Path) -> float | None:
    """Confidence that `path` is a Pascal VOC dataset folder.

    0.9 for a folder with ``Annotations/`` holding ``<annotation>`` xml, 0.8 for a folder holding
    one such dataset (``VOCdevkit/``), 0.6 for a bare folder of ``<annotation>`` xml files.
    """
    path = Path(path)
    if not path.is_dir():
        return None
    if _has_voc_annotations(path):
        return 0.9
    first = _first_xml(path)
    if first is not None and _root_tag(first) == "annotation":
        return 0.6
    if _child_datasets(path):
        return 0.8
    return None


# --------------------------------------------------------------------------------------------
# read: helpers


def _typed(text: str | None) -> Any:
    """CVAT attribute text -> bool / int / float / str (``true``/``false`` and numbers typed)."""
    if text is None:
        return ""
    t = text.strip()
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    if _INT_RE.match(t):
        return int(t)
    if _FLOAT_RE.match(t):
        return float(t)
    return text


def _flag(text: str | None) -> Any:
    """A VOC 0/1 flag -> bool; other integers stay int, other text stays str; empty -> False."""
    t = (text or "").strip()
    if t in ("0", ""):
        return False
    if t == "1":
        return True
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    if _INT_RE.match(t):
        return int(t)
    return t


def _is_unsafe(data: bytes) -> int | None:
    """Byte offset of a DOCTYPE/ENTITY declaration, or None."""
    if b"\x00" not in data[:4] and b"<!" not in data:  # ASCII-compatible and no declaration at all
        return None
    hits = [pos for m in _UNSAFE_MARKERS if (pos := data.find(m)) >= 0]
    return min(hits) if hits else None


def _element_line(data: bytes, steps: list[tuple[str, int]]) -> int | None:
    """1-based line of the element at `steps` (``[("object", 2), ("bndbox", 1)]``) below the root.

    Only called on the error path (ElementTree's C parser keeps no line numbers); returns the
    line of the deepest ancestor found when the element itself is missing.
    """
    from xml.parsers import expat

    parser = expat.ParserCreate()
    counts: list[Counter[str]] = [Counter()]  # child tag counts of each open element
    on_path: list[bool] = [True]  # whether each open element lies on `steps`
    best: int | None = None

    def start(tag: str, _attrs: dict[str, str]) -> None:
        nonlocal best
        depth = len(counts)  # 1 = the root element
        counts[-1][tag] += 1
        level = depth - 2
        here = on_path[-1] and (depth == 1 or (level < len(steps) and steps[level] == (tag, counts[-1][tag])))
        counts.append(Counter())
        on_path.append(here)
        if here:
            best = parser.CurrentLineNumber

    def end(_tag: str) -> None:
        counts.pop()
        on_path.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    with contextlib.suppress(expat.ExpatError):  # a line is still useful from a broken file
        parser.Parse(data, True)
    return best


class _Collector:
    """Raise-or-collect policy for one read."""

    def __init__(self, on_error: OnError) -> None:
        self.on_error = on_error
        self.findings: list[Finding] = []

    def report(self, err: InputError, code: str) -> None:
        if self.on_error == "raise":
            raise err
        self.findings.append(err.to_finding(code))


def _path_text(steps: list[tuple[str, int]]) -> str:
    return "/".join(f"{tag}[{n}]" if tag in ("object", "part") else tag for tag, n in steps)


def _field_error(xml_path: str, data: bytes, steps: list[tuple[str, int]], problem: str, hint: str) -> InputError:
    return InputError(xml_path, problem, record=_path_text(steps), hint=hint, line=_element_line(data, steps))


_BOX_HINT = "Each <bndbox> needs numeric <xmin>, <ymin>, <xmax>, <ymax> (1-based pixels); fix or remove the object"


def _read_bndbox(el: Any, xml_path: str, data: bytes, steps: list[tuple[str, int]]) -> list[float]:
    """Four floats from a ``<bndbox>`` element, in xmin, ymin, xmax, ymax order."""
    texts: list[Any] = [..., ..., ..., ...]
    for child in el:
        i = _BOX_INDEX.get(child.tag)
        if i is not None and texts[i] is ...:
            texts[i] = child.text
    try:  # fast path; the loop below finds the culprit
        return [float(texts[0]), float(texts[1]), float(texts[2]), float(texts[3])]
    except (TypeError, ValueError):
        pass
    values = dict(zip(_BOX_FIELDS, texts, strict=True))
    out = []
    for name in _BOX_FIELDS:
        text = values.get(name, ...)
        if text is ...:
            raise _field_error(xml_path, data, [*steps, (name, 1)], f"missing <{name}>", _BOX_HINT)
        try:
            out.append(float(text))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise _field_error(
                xml_path, data, [*steps, (name, 1)], f"<{name}> is {text!r}, not a number", _BOX_HINT
            ) from None
    return out


def _size_field(text: str | None, name: str, xml_path: str, data: bytes, collector: _Collector) -> int | None:
    """Width/height from ``<size>``: a positive whole number, else None (unknown)."""
    if text is not None and text.isascii() and text.isdigit():  # fast path
        value = int(text)
        return value if value > 0 else None
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
        if not value.is_integer():
            raise ValueError
    except ValueError:
        collector.report(
            _field_error(
                xml_path,
                data,
                [("size", 1), (name, 1)],
                f"<{name}> is {text!r}, not a whole number of pixels",
                "Fix the value or remove <size> to have it read from the image",
            ),
            "invalid-record",
        )
        return None
    return int(value) if value > 0 else None


def _labelmap_rows(path: Path, collector: _Collector) -> list[tuple[str, dict[str, Any] | None]]:
    """``name:color:parts:actions`` lines (Datumaro/CVAT) -> ``[(name, attributes)]`` in order."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(path, f"not UTF-8 text ({err.reason} at byte {err.start})", hint="Save it as UTF-8") from None
    rows: list[tuple[str, dict[str, Any] | None]] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        if len(fields) > 4:  # a name holding ':' (the last three fields are always there when written so)
            fields = [":".join(fields[:-3]), *fields[-3:]]
        name = fields[0].strip()
        attrs: dict[str, Any] = {}
        if len(fields) > 1 and fields[1].strip():
            try:
                color = [int(c) for c in fields[1].split(",")]
                if len(color) != 3:
                    raise ValueError
            except ValueError:
                collector.report(
                    InputError(
                        path,
                        f"color {fields[1]!r} of {name!r} is not 'r,g,b'",
                        line=number,
                        hint="Write the colour as three integers, e.g. 128,0,0, or leave it empty",
                    ),
                    "invalid-record",
                )
            else:
                attrs["color"] = color
        for key, idx in (("parts", 2), ("actions", 3)):
            if len(fields) > idx and fields[idx].strip():
                attrs[key] = [p.strip() for p in fields[idx].split(",") if p.strip()]
        if not name:
            collector.report(
                InputError(path, "empty label name", line=number, hint="Remove the line"), "invalid-record"
            )
            continue
        if name in seen:
            collector.report(
                InputError(path, f"label {name!r} is listed twice", line=number, hint="Remove the duplicate line"),
                "invalid-record",
            )
            continue
        seen.add(name)
        rows.append((name, attrs or None))
    return rows


def _split_files(split_dir: Path) -> tuple[dict[str, Path], list[str]]:
    """Split lists in ``ImageSets/Main``: ``{split: path}`` and the ignored per-class files.

    ``<class>_<split>.txt`` files with ``id ±1`` lines (the VOC classification task) are not
    splits; the class may itself contain ``_`` or be called ``train`` (``train_val.txt``).
    """
    try:
        txts = sorted(
            p for p in split_dir.iterdir() if p.suffix == ".txt" and p.is_file() and not p.name.startswith(".")
        )
    except OSError:
        return {}, []
    stems = {p.stem for p in txts}
    splits: dict[str, Path] = {}
    ignored: list[str] = []
    for p in txts:
        head, sep, tail = p.stem.rpartition("_")
        if sep and head and (tail in _STANDARD_SPLITS or tail in stems):
            with open(p, "rb") as f:
                first = f.read(512).decode("utf-8", "replace").strip().splitlines()
            if not first or _CLASS_LIST_RE.match(first[0]):
                ignored.append(p.name)
                continue
        splits[p.stem] = p
    return splits, ignored


def _split_priority(name: str) -> tuple[int, str]:
    """Most specific first: train/val/test, other names, trainval, then "default" (no split)."""
    order = {"train": 0, "val": 1, "test": 2, "trainval": 4, NO_SPLIT: 5}
    return order.get(name, 3), name


def _read_split_ids(path: Path, collector: _Collector) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(path, f"not UTF-8 text ({err.reason} at byte {err.start})", hint="Save it as UTF-8") from None
    ids = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if _PLAIN_MEMBER_RE.match(line):
            ids.append(line)
            continue
        try:
            ids.append(check_member(line, path=path, record=f"line {number}"))
        except InputError as err:
            err.line = number
            collector.report(err, "invalid-record")
    return ids


def _index_files(folder: Path) -> tuple[set[str], dict[str, str]]:
    """Files under `folder` as POSIX paths relative to it, and image stem -> first such path."""
    files: set[str] = set()
    by_stem: dict[str, str] = {}
    base = str(folder)
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel = os.path.relpath(dirpath, base).replace(os.sep, "/")
        prefix = "" if rel == "." else rel + "/"
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            member = prefix + name
            files.add(member)
            stem, dot, suffix = member.rpartition(".")
            if dot and f".{suffix.lower()}" in IMAGE_SUFFIXES:
                by_stem.setdefault(stem, member)
    return files, by_stem


def _safe_filename(text: str) -> tuple[str, bool]:
    """`<filename>` as a relative member; absolute or ``..`` paths fall back to their base name."""
    try:
        return check_member(text), False
    except InputError:
        return PurePosixPath(text.replace("\\", "/")).name, True


@dataclasses.dataclass
class _Layout:
    root: Path
    annotations: Path  # folder of xml files
    images: Path | None  # folder of image files
    images_rel: str  # `images` relative to root ("" for a bare folder)
    split_dir: Path | None
    notes: list[str]


def _resolve_layout(path: Path) -> _Layout:
    if not path.exists():
        raise InputError(path, "no such file or directory", hint="Check the path")
    if not path.is_dir():
        raise InputError(path, "not a folder", hint="Pass the VOC dataset folder (the one holding Annotations/)")
    notes: list[str] = []
    if not (path / ANNOTATIONS_DIR).is_dir() and path.name == ANNOTATIONS_DIR and (path.parent / IMAGES_DIR).is_dir():
        notes.append(f"read the dataset at {path.parent} (given its {ANNOTATIONS_DIR}/ folder)")
        path = path.parent
    if not (path / ANNOTATIONS_DIR).is_dir() and _first_xml(path) is None:
        children = _child_datasets(path)
        if len(children) > 1:
            names = ", ".join(c.name for c in children)
            raise InputError(
                path,
                f"holds several VOC datasets ({names})",
                hint=f"Pass one of them, e.g. {children[0]}",
            )
        if children:
            notes.append(f"read the VOC dataset in {children[0].name}/")
            path = children[0]
    if (path / ANNOTATIONS_DIR).is_dir():
        images = path / IMAGES_DIR
        if not images.is_dir():
            alt = next((path / n for n in ("images", "Images") if (path / n).is_dir()), None)
            if alt is not None:
                notes.append(f"no {IMAGES_DIR}/ folder: images looked up in {alt.name}/")
                images = alt
        split_dir = path / SPLITS_DIR
        return _Layout(
            path,
            path / ANNOTATIONS_DIR,
            images if images.is_dir() else None,
            images.name,
            split_dir if split_dir.is_dir() else None,
            notes,
        )
    notes.append("layout: a bare folder of VOC xml files (no Annotations/), images looked up beside them")
    return _Layout(path, path, path, "", None, notes)


def _list_xml(folder: Path) -> tuple[dict[str, str], int]:
    """VOC id (xml path relative to `folder` without ``.xml``) -> that relative path; hidden files skipped."""
    ids: dict[str, str] = {}
    hidden = 0
    base = str(folder)
    for dirpath, dirnames, filenames in os.walk(folder):
        hidden += sum(1 for d in dirnames if d.startswith("."))
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel = os.path.relpath(dirpath, base).replace(os.sep, "/")
        prefix = "" if rel == "." else rel + "/"
        for name in filenames:
            if name[-4:].lower() != ".xml":
                continue
            if name.startswith("."):  # macOS "._x.xml" resource forks, editor backups
                hidden += 1
                continue
            ids.setdefault(prefix + name[:-4], prefix + name)
    return ids, hidden


# --------------------------------------------------------------------------------------------
# read


def _read_splits(layout: _Layout, collector: _Collector, notes: list[str]) -> dict[str, str]:
    """VOC id -> split from ``ImageSets/Main``, the most specific split winning (noted)."""
    split_of: dict[str, str] = {}
    if layout.split_dir is None:
        return split_of
    split_paths, ignored = _split_files(layout.split_dir)
    if ignored:
        notes.append(f"ignored {len(ignored)} per-class list files in {SPLITS_DIR} (e.g. {ignored[0]}): not splits")
    conflicts: Counter[tuple[str, str]] = Counter()
    for split in sorted(split_paths, key=_split_priority):
        for voc_id in _read_split_ids(split_paths[split], collector):
            have = split_of.setdefault(voc_id, split)
            if have != split:
                conflicts[(have, split)] += 1
    for (kept, other), n in sorted(conflicts.items(), key=lambda kv: (_split_priority(kv[0][0]), kv[0][1])):
        if other in ("trainval", NO_SPLIT):  # VOC's own nesting: trainval = train + val
            notes.append(f"{n} images in {other}.txt are also in {kept}.txt: kept the more specific {kept}")
        else:
            notes.append(f"{n} images listed in both {kept} and {other}: kept {kept}")
    return split_of


def _load_xml(xml_path: str, data: bytes) -> Any:
    """The ``<annotation>`` root element of one file's bytes.

    Raises:
        InputError: a DOCTYPE/ENTITY declaration, malformed XML, or another root element.
    """
    import xml.etree.ElementTree as ET  # lazy: start-up time of the other formats

    unsafe_at = _is_unsafe(data)
    if unsafe_at is not None:
        raise InputError(
            xml_path,
            "refused: the XML has a DOCTYPE/ENTITY declaration (entity expansion and external entities are unsafe)",
            record="DOCTYPE",
            line=data[:unsafe_at].count(b"\n") + 1,
            hint="Remove the <!DOCTYPE ...> block; VOC annotation files never need one",
        )
    try:
        root = ET.fromstring(data)
    except ET.ParseError as err:
        from xml.parsers.expat import ErrorString

        line, column = err.position
        raise InputError(
            xml_path,
            f"malformed XML: {ErrorString(err.code)}",
            record=f"line {line}, column {column + 1}",
            line=line,
            hint="Fix the file (an unclosed or misspelt tag, a bare '&') or remove it",
        ) from None
    if root.tag != "annotation":
        raise InputError(
            xml_path,
            f"root element is <{root.tag}>, expected <annotation>",
            record=root.tag,
            hint="Not a Pascal VOC annotation file: move it out of the annotations folder",
        )
    return root


def _fill_sizes(
    layout: _Layout,
    file_names: list[str],
    widths: list[int | None],
    heights: list[int | None],
    image_files: set[str],
    notes: list[str],
) -> None:
    """Fill unknown sizes in place from image headers, where the image file exists; note the rest."""
    prefix_len = len(layout.images_rel) + 1 if layout.images_rel else 0
    missing = probed = unreadable = unknown = 0
    for k, file_name in enumerate(file_names):
        on_disk = file_name[prefix_len:] in image_files
        missing += not on_disk
        if widths[k] is not None and heights[k] is not None:
            continue  # the xml says: never open the image
        if not on_disk:
            unknown += 1
            continue
        try:
            header = probe_image(layout.root / file_name)
        except InputError:
            unreadable += 1
            continue
        widths[k] = widths[k] or header.width
        heights[k] = heights[k] or header.height
        probed += 1
    if missing:
        where = f"{layout.images_rel}/" if layout.images_rel else "the folder"
        notes.append(f"{missing} of {len(file_names)} image files not found in {where}")
    if probed:
        notes.append(f"read {probed} image sizes from image headers (no <size> in the xml)")
    if unknown:
        notes.append(f"{unknown} image sizes unknown (no <size> and no image file)")
    if unreadable:
        notes.append(f"{unreadable} image files without <size> could not be read: sizes unknown")


def _categories_frame(
    root: Path, used: list[str], collector: _Collector, notes: list[str]
) -> tuple[list[str], pd.DataFrame]:
    """Class names in id order (labelmap.txt order, else sorted) and the categories table."""
    labelmap_path = root / LABELMAP
    if labelmap_path.is_file():
        rows = _labelmap_rows(labelmap_path, collector)
        declared = {name for name, _ in rows}
        extra = [n for n in used if n not in declared]
        notes.append(f"categories: {len(rows)} from {LABELMAP} in its order")
        if extra:
            shown = ", ".join(extra[:MAX_EXAMPLES])
            notes.append(f"{len(extra)} class names not in {LABELMAP} added after its labels: {shown}")
        rows += [(n, None) for n in extra]
    else:
        rows = [(n, None) for n in used]
        if rows:
            notes.append(f"categories: {len(rows)} class names sorted alphabetically (no {LABELMAP})")
    names = [name for name, _ in rows]
    frame = pd.DataFrame(
        {
            "category_id": np.arange(1, len(rows) + 1, dtype=np.int64),
            "name": pd.array(names, dtype="str"),
            "attributes": pd.Series([a for _, a in rows], dtype=object),
        }
    )
    return names, frame


def read(path: Path, *, on_error: OnError = "raise", provenance: bool = False, **options: Any) -> ReadResult:
    """Read a Pascal VOC dataset folder into a `Dataset`.

    Accepts the standard layout (``Annotations/``, ``ImageSets/Main/<split>.txt``,
    ``JPEGImages/``, optional ``labelmap.txt``), a folder holding one such dataset
    (``VOCdevkit/``), or a bare folder of VOC xml files with the images beside them.

    Images are the xml files plus ids listed in split files without an xml (images without
    labels); ``image_id`` 1..N in sorted VOC-id order; ``file_name`` is ``JPEGImages/<filename>``
    relative to the dataset folder (``root``). An id in several split files gets the most specific
    one (train/val/test before trainval); ``default.txt`` means no split. Categories come from
    ``labelmap.txt`` in its order (ids 1..C), else sorted class names. Boxes are continuous xyxy.
    With ``on_error="collect"`` a broken file is left out (not turned into an unlabelled image)
    and a bad object is skipped, each with a finding. ``provenance=True`` also returns each
    image's xml file and each object's file, line and ``object[k]`` path.

    Raises:
        InputError: the folder is missing, an xml file is malformed or unsafe (DOCTYPE/ENTITY),
            or an object's field is missing or not a number (with ``on_error="raise"``).
        UsageError: an unknown option.
    """
    if options:
        raise UsageError(f"voc reader: unknown option(s) {', '.join(sorted(options))}")
    layout = _resolve_layout(Path(path))
    notes = layout.notes
    collector = _Collector(on_error)
    split_of = _read_splits(layout, collector, notes)
    xml_ids, hidden = _list_xml(layout.annotations)
    if hidden:
        notes.append(f"skipped {hidden} hidden files/folders in {layout.annotations.name}/ (e.g. macOS '._*' files)")
    image_files, image_stems = _index_files(layout.images) if layout.images is not None else (set(), {})
    images_prefix = layout.images_rel + "/" if layout.images_rel else ""

    # Images in sorted VOC-id order: xml files, and split-list ids without one (no labels).
    all_ids = sorted(xml_ids.keys() | split_of.keys())
    failed: set[str] = set()
    img_file: dict[str, str] = {}
    img_size: dict[str, tuple[int | None, int | None]] = {}
    img_attrs: dict[str, dict[str, Any]] = {}
    # annotation columns, one list each (one np.array per column at the end)
    ann_image: list[int] = []
    ann_name: list[str] = []
    ann_coords: list[float] = []
    ann_attrs: list[dict[str, Any] | None] = []
    unknown_nested: Counter[str] = Counter()
    basename_fallbacks = 0
    # provenance (only with provenance=True): xml file per image, file/line/record per object
    xml_dir = _relative_dir(layout.annotations, layout.root)
    src_image: dict[str, str] = {}
    src_file: list[str] = []
    src_line: list[int | None] = []
    src_record: list[str] = []

    ann_dir = str(layout.annotations)
    for position, voc_id in enumerate(all_ids):
        rel = xml_ids.get(voc_id)
        if rel is None:
            img_file[voc_id] = images_prefix + (image_stems.get(voc_id) or f"{voc_id}.jpg")
            img_size[voc_id] = (None, None)
            continue
        xml_path = f"{ann_dir}/{rel}"
        with open(xml_path, "rb") as f:
            data = f.read()
        try:
            root = _load_xml(xml_path, data)
        except InputError as err:
            failed.add(voc_id)
            collector.report(err, "unreadable-input")
            continue

        filename = None
        width = height = depth = None
        objects = []
        for child in root:  # <folder> is the dataset's name in VOC itself ("VOC2007"), not a path
            tag = child.tag
            if tag == "object":
                objects.append(child)
            elif tag == "filename":
                filename = (child.text or "").strip()
            elif tag == "size":
                for s in child:
                    if s.tag == "width":
                        width = _size_field(s.text, "width", xml_path, data, collector)
                    elif s.tag == "height":
                        height = _size_field(s.text, "height", xml_path, data, collector)
                    elif s.tag == "depth" and (s.text or "").strip():
                        depth = _typed(s.text)

        # the image: <filename> beside the id's sub-folder, as given, then the id with any suffix
        id_dir = voc_id.rpartition("/")[0]
        found = guess = None
        if filename:
            if not _PLAIN_MEMBER_RE.match(filename):
                filename, fell_back = _safe_filename(filename)
                basename_fallbacks += fell_back
            candidates = [f"{id_dir}/{filename}", filename] if id_dir and "/" not in filename else [filename]
            found = next((c for c in candidates if c in image_files), None)
            guess = candidates[0]
            if found is None:
                stem = filename.rpartition(".")[0] or filename
                found = image_stems.get(f"{id_dir}/{stem}" if id_dir and "/" not in stem else stem)
        img_file[voc_id] = images_prefix + (found or image_stems.get(voc_id) or guess or f"{voc_id}.jpg")
        img_size[voc_id] = (width, height)
        if depth is not None and depth != 3:
            img_attrs[voc_id] = {"depth": depth}

        if provenance:
            src_image[voc_id] = f"{xml_dir}{rel}"
            lines = _object_lines(data, len(objects))
        for number, obj in enumerate(objects, 1):
            try:
                name, coords, attrs = _parse_object(obj, number, xml_path, data, unknown_nested)
            except InputError as err:
                collector.report(err, "invalid-record")
                continue
            if provenance:
                src_file.append(f"{xml_dir}{rel}")
                src_line.append(lines[number - 1])
                src_record.append(f"object[{number}]")
            ann_image.append(position)
            ann_name.append(name)
            ann_coords.extend(coords)
            ann_attrs.append(attrs)

    # -- images -----------------------------------------------------------------------------------
    ids = [i for i in all_ids if i not in failed]
    split_only = sum(1 for i in ids if i not in xml_ids)
    if split_only:
        notes.append(f"{split_only} image(s) listed in {SPLITS_DIR} without an annotation file: no labels")
    if basename_fallbacks:
        notes.append(f"{basename_fallbacks} <filename> values were absolute or left the folder: used base names")
    if unknown_nested:
        tags = ", ".join(f"<{t}> x{n}" for t, n in sorted(unknown_nested.items()))
        notes.append(f"ignored unknown nested object elements: {tags}")
    file_names = [img_file[i] for i in ids]
    widths = [img_size[i][0] for i in ids]
    heights = [img_size[i][1] for i in ids]
    _fill_sizes(layout, file_names, widths, heights, image_files, notes)
    splits = [split_of.get(i) for i in ids]
    splits = [None if s == NO_SPLIT else s for s in splits]
    if split_of and None in splits:
        notes.append(f"{splits.count(None)} images are in no split list (split left empty)")
    images = pd.DataFrame(
        {
            "image_id": np.arange(1, len(ids) + 1, dtype=np.int64),
            "file_name": pd.array(file_names, dtype="str"),
            "width": pd.array(widths, dtype="Int64"),
            "height": pd.array(heights, dtype="Int64"),
            "split": pd.array([np.nan if s is None else s for s in splits], dtype="str"),
            "attributes": pd.Series([img_attrs.get(i) for i in ids], dtype=object),
        }
    )

    # -- categories and annotations ---------------------------------------------------------------
    cat_names, categories = _categories_frame(layout.root, sorted(set(ann_name)), collector, notes)
    new_position = np.full(len(all_ids), -1, dtype=np.int64)  # position in all_ids -> row in images
    new_position[[i not in failed for i in all_ids]] = np.arange(len(ids))
    n = len(ann_name)
    xyxy = boxes.voc_to_xyxy(np.array(ann_coords, dtype=np.float64).reshape(n, 4))
    annotations = pd.DataFrame(
        {
            "annotation_id": np.arange(1, n + 1, dtype=np.int64),
            "image_id": new_position[np.array(ann_image, dtype=np.int64)] + 1,
            "category_id": pd.Index(cat_names).get_indexer(ann_name).astype(np.int64) + 1,
            "x_min": xyxy[:, 0],
            "y_min": xyxy[:, 1],
            "x_max": xyxy[:, 2],
            "y_max": xyxy[:, 3],
            "attributes": pd.Series(ann_attrs, dtype=object),
        }
    )
    ds = Dataset.from_frames(images, annotations, categories, root=layout.root)
    result = ReadResult(ds, "voc", collector.findings, notes)
    if provenance:
        result.image_sources = pd.DataFrame(
            {"file": pd.array([src_image.get(i) for i in ids], dtype="str")}, index=ds.images.index
        )
        result.annotation_sources = pd.DataFrame(
            {"file": src_file, "line": pd.array(src_line, dtype="Int64"), "record": src_record},
            index=pd.Index(annotations["annotation_id"], name="annotation_id"),
        )
    return result


def _relative_dir(folder: Path, root: Path) -> str:
    """``folder`` relative to ``root`` with a trailing ``/`` (``""`` when they are the same)."""
    try:
        rel = folder.relative_to(root).as_posix()
    except ValueError:
        rel = folder.as_posix()
    return "" if rel in ("", ".") else rel + "/"


_OBJECT_TAG_RE = re.compile(rb"<object[\s/>]")


def _object_lines(data: bytes, count: int) -> list[int | None]:
    """1-based lines of the `count` top-level ``<object>`` tags, found in the raw bytes.

    A text scan, not a second parse; when it does not find exactly `count` tags (one inside a
    comment, say) the lines are left unknown rather than guessed.
    """
    starts = [m.start() for m in _OBJECT_TAG_RE.finditer(data)]
    if len(starts) != count:
        return [None] * count
    lines, last, line = [], 0, 1
    for pos in starts:
        line += data.count(b"\n", last, pos)
        last = pos
        lines.append(line)
    return lines


def _parse_object(
    obj: Any, number: int, xml_path: str, data: bytes, unknown_nested: Counter[str]
) -> tuple[str, list[float], dict[str, Any] | None]:
    """``(class name, [xmin, ymin, xmax, ymax] as in the file, attributes or None)``."""
    name = None
    bndbox = None
    attrs: dict[str, Any] = {}
    for child in obj:
        tag = child.tag
        if tag == "name":
            name = child.text
        elif tag == "bndbox":
            if bndbox is None:
                bndbox = child
        elif tag in FLAGS:
            text = child.text
            if text != "0":  # the common case first: VOC's default, not stored
                value = _flag(text)
                if value is not False:
                    attrs[tag] = value
        elif tag == "pose":
            pose = child.text
            if pose != "Unspecified":
                pose = (pose or "").strip()
                if pose and pose != "Unspecified":
                    attrs["pose"] = pose
        elif tag == "part":
            attrs.setdefault("parts", []).append(child)
        elif tag == "actions":
            attrs["actions"] = {a.tag: _flag(a.text) for a in child}
        elif tag == "attributes":
            for attribute in child:
                if attribute.tag != "attribute":
                    continue
                key = attribute.findtext("name")
                if key is not None and key.strip():
                    attrs[key.strip()] = _typed(attribute.findtext("value"))
        elif len(child) == 0:
            attrs[tag] = _typed(child.text)
        else:
            unknown_nested[tag] += 1
    steps = [("object", number)]
    if name is not None:
        name = name.strip()
    if not name:
        problem = "missing <name>" if name is None else "empty <name>"
        raise _field_error(xml_path, data, [*steps, ("name", 1)], problem, "Give every <object> a class <name>")
    if bndbox is None:
        raise _field_error(
            xml_path,
            data,
            [*steps, ("bndbox", 1)],
            "missing <bndbox>",
            "Give the object a <bndbox> or remove it (LabelMe polygons are not VOC)",
        )
    coords = _read_bndbox(bndbox, xml_path, data, [*steps, ("bndbox", 1)])
    if "parts" in attrs:
        parts = []
        for k, part in enumerate(attrs["parts"], 1):
            part_steps = [*steps, ("part", k)]
            part_name = (part.findtext("name") or "").strip()
            part_box = part.find("bndbox")
            if part_box is None:
                raise _field_error(
                    xml_path, data, [*part_steps, ("bndbox", 1)], "missing <bndbox> in <part>", _BOX_HINT
                )
            x0, y0, x1, y1 = _read_bndbox(part_box, xml_path, data, [*part_steps, ("bndbox", 1)])
            parts.append({"name": part_name, "x_min": x0 - 1.0, "y_min": y0 - 1.0, "x_max": x1, "y_max": y1})
        attrs["parts"] = parts
    return name, coords, attrs or None


# --------------------------------------------------------------------------------------------
# write: attribute handling shared by `plan` and `write`


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars (attributes built in code may hold them)."""
    return value.item() if isinstance(value, np.generic) else value


def _coordinate_text(value: float) -> str:
    """A part coordinate: an integer when whole, else the shortest repr after 1e-9 rounding."""
    v = round(float(value), 9)
    return str(int(v)) if v.is_integer() else repr(v)


def _retypes(text: str) -> bool:
    """True when `text` would be read back as something other than this str."""
    return _typed(text) != text


def _check_attributes(attrs: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Keys of `attrs` VOC cannot hold (dropped) and keys whose str value comes back typed."""
    dropped: list[str] = []
    retyped: list[str] = []
    for key, raw in attrs.items():
        value = _plain(raw)
        if key in FLAGS:
            if isinstance(value, bool | int):
                continue
            if isinstance(value, str):
                if _flag(value) != value:
                    retyped.append(key)
                continue
            dropped.append(key)
        elif key == "pose":
            if not isinstance(value, str):
                dropped.append(key)
            elif not value.strip() or value != value.strip():
                retyped.append(key)
        elif key == "parts":
            if not _valid_parts(value):
                dropped.append(key)
        elif key == "actions":
            if not isinstance(value, dict) or not all(
                isinstance(_plain(v), bool | int | str) and _is_tag(str(k)) for k, v in value.items()
            ):
                dropped.append(key)
        elif not isinstance(key, str) or not key.strip() or key != key.strip() or _XML_INVALID_RE.search(key):
            retyped.append(key)  # the name comes back as a stripped str
        elif isinstance(value, bool | int):
            continue
        elif isinstance(value, float):
            if not np.isfinite(value):  # "nan"/"inf" come back as text
                retyped.append(key)
        elif isinstance(value, str):
            if _retypes(value) or _XML_INVALID_RE.search(value):
                retyped.append(key)
        else:
            dropped.append(key)
    return dropped, retyped


_TAG_RE = re.compile(r"[A-Za-z_][\w.-]*\Z")


def _is_tag(text: str) -> bool:
    return bool(_TAG_RE.match(text)) and not text.lower().startswith("xml")


def _valid_parts(value: Any) -> bool:
    if not isinstance(value, list):
        return False
    for part in value:
        if not isinstance(part, dict) or set(part) != set(_PART_KEYS) or not isinstance(part["name"], str):
            return False
        try:
            if not all(np.isfinite(float(part[k])) for k in BOX_COLUMNS):
                return False
        except (TypeError, ValueError):
            return False
    return True


def _escape(text: str) -> str:
    if not _NEEDS_ESCAPE_RE.search(text):
        return text
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _XML_INVALID_RE.sub("\ufffd", text)  # characters XML 1.0 cannot carry


def _flag_text(value: Any) -> str:
    value = _plain(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    return _escape(str(value))


def _attribute_value_text(value: Any) -> str:
    value = _plain(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return _escape(str(value))


def _extras_xml(attrs: dict[str, Any]) -> tuple[str, str]:
    """``(pose/flag elements, part/actions/attributes elements)`` for an object's attributes.

    Unrepresentable values are skipped here; `plan` reports them.
    """
    dropped = set(_check_attributes(attrs)[0])
    pose = _plain(attrs.get("pose"))
    head = [f"    <pose>{_escape(pose) if isinstance(pose, str) and 'pose' not in dropped else 'Unspecified'}</pose>\n"]
    for flag in ("truncated", "difficult"):
        value = attrs.get(flag, False) if flag not in dropped else False
        head.append(f"    <{flag}>{_flag_text(value)}</{flag}>\n")
    if "occluded" in attrs and "occluded" not in dropped:
        head.append(f"    <occluded>{_flag_text(attrs['occluded'])}</occluded>\n")
    tail: list[str] = []
    if "parts" in attrs and "parts" not in dropped:
        for part in attrs["parts"]:
            voc = (float(part["x_min"]) + 1.0, float(part["y_min"]) + 1.0, float(part["x_max"]), float(part["y_max"]))
            coords = "".join(
                f"        <{f}>{_coordinate_text(v)}</{f}>\n" for f, v in zip(_BOX_FIELDS, voc, strict=True)
            )
            tail.append(
                f"    <part>\n      <name>{_escape(part['name'])}</name>\n"
                f"      <bndbox>\n{coords}      </bndbox>\n    </part>\n"
            )
    if "actions" in attrs and "actions" not in dropped:
        flags = "".join(f"      <{k}>{_flag_text(v)}</{k}>\n" for k, v in attrs["actions"].items())
        tail.append(f"    <actions>\n{flags}    </actions>\n")
    extra = [(k, v) for k, v in attrs.items() if k not in _RESERVED and k not in dropped]
    if extra:
        items = "".join(
            f"      <attribute>\n        <name>{_escape(str(k))}</name>\n"
            f"        <value>{_attribute_value_text(v)}</value>\n      </attribute>\n"
            for k, v in extra
        )
        tail.append(f"    <attributes>\n{items}    </attributes>\n")
    return "".join(head), "".join(tail)


# --------------------------------------------------------------------------------------------
# write: names and the plan


def _strip_image_suffix(name: str) -> str:
    stem, dot, suffix = name.rpartition(".")
    if dot and stem and "/" not in suffix and f".{suffix.lower()}" in IMAGE_SUFFIXES:
        return stem
    return name


def _voc_names(ds: Dataset) -> tuple[list[str], list[str], list[int]]:
    """Per image (in `ds.images` order): VOC id, image name under JPEGImages, and renamed image ids.

    Names come from `image_layout`; a dataset read from VOC keeps its ``JPEGImages/`` paths.
    Ids that collide (``a.jpg`` and ``a.png``, or names equal but for case, which collide on
    macOS/Windows) or cannot sit on a split-list line become ``<id>_<image_id>``.
    """
    file_names = ds.images["file_name"].astype(object).tolist()
    prefix = IMAGES_DIR + "/"
    if file_names and all(isinstance(f, str) and f.startswith(prefix) for f in file_names):
        names = [f[len(prefix) :] for f in file_names]
    else:
        names = image_layout(ds)["name"].astype(object).tolist()
    ids = [_strip_image_suffix(n) for n in names]
    taken: set[str] = set()
    renamed: list[int] = []
    image_ids = ds.images.index.tolist()
    out_ids: list[str] = []
    out_names: list[str] = []
    for voc_id, name, image_id in zip(ids, names, image_ids, strict=True):
        suffix = name[len(voc_id) :]
        clean = voc_id
        if "\n" in clean or "\r" in clean or clean != clean.strip():
            clean = re.sub(r"[\r\n]+", "_", clean).strip() or "image"
        new = clean
        while new.casefold() in taken:
            new = f"{new}_{image_id}"
        if new != voc_id:
            renamed.append(int(image_id))
        taken.add(new.casefold())
        out_ids.append(new)
        out_names.append(new + suffix)
    return out_ids, out_names, renamed


def _member_paths(root: Path, names: list[str]) -> list[str]:
    """Paths of dataset-relative `names` under `root`, refusing any that would escape it.

    Plain names are joined as strings (`safe_join` builds two Path objects per call: ~1 s per
    100k files); anything else goes through `files.safe_join`, which normalises or refuses it.

    Raises:
        OutputError: a name is absolute or contains ``..``.
    """
    base = str(root)
    return [f"{base}/{n}" if _PLAIN_MEMBER_RE.match(n) else str(safe_join(root, n)) for n in names]


def _examples(ids: Iterable[Any]) -> list[int]:
    return [int(i) for i in list(ids)[:MAX_EXAMPLES]]


def plan(ds: Dataset, **options: Any) -> list[Loss]:
    """What writing `ds` as VOC would drop or change: `plan_losses` plus VOC's own losses.

    VOC-specific: category ids not 1..C (VOC stores names; ids come back renumbered in
    ``labelmap.txt`` order), attribute values VOC cannot hold or that come back typed, images
    renamed to keep ids unique, annotations on missing images or with non-finite boxes,
    category names changed by the labelmap/xml text rules, and per-image extras other than depth.

    Raises:
        UsageError: an unknown option.
    """
    if options:
        raise UsageError(f"voc writer: unknown option(s) {', '.join(sorted(options))}")
    losses = [
        loss for loss in plan_losses(ds, CAPABILITIES, format_name="voc") if loss.code != "image-attributes-dropped"
    ]
    anns = ds.annotations
    cats = ds.categories

    # per-image extras: only depth fits in VOC
    img_attrs = ds.images["attributes"]
    lost_images = [
        image_id
        for image_id, attrs in zip(ds.images.index, img_attrs, strict=True)
        if isinstance(attrs, dict) and (set(attrs) - {"depth"} or not isinstance(_plain(attrs.get("depth", 3)), int))
    ]
    if lost_images:
        losses.append(
            Loss(
                "image-attributes-dropped",
                "voc holds no per-image extras other than <depth> (license, urls...)",
                len(lost_images),
                _examples(lost_images),
                unit="image",
            )
        )

    # categories: ids come back as 1..C in category_id order
    cat_ids = cats.index.to_numpy()
    if len(cat_ids) and not np.array_equal(cat_ids, np.arange(1, len(cat_ids) + 1)):
        changed = cat_ids[cat_ids != np.arange(1, len(cat_ids) + 1)]
        losses.append(
            Loss(
                "category-ids-renumbered",
                "voc stores class names, not ids: categories come back numbered 1..C in category_id order",
                len(changed),
                _examples(changed),
                unit="category",
            )
        )
    bad_names = [
        cid
        for cid, name in zip(cats.index, cats["name"], strict=True)
        if name != name.strip() or "\n" in name or "\r" in name or name.startswith("#") or _XML_INVALID_RE.search(name)
    ]
    if bad_names:
        losses.append(
            Loss(
                "category-name-changed",
                "class names with surrounding spaces, line breaks, a leading '#' or control characters "
                "do not survive labelmap.txt/xml",
                len(bad_names),
                _examples(bad_names),
                unit="category",
            )
        )
    dangling = anns.index[~anns["category_id"].isin(cats.index).to_numpy()]
    if len(dangling):
        losses.append(
            Loss(
                "dangling-category-named",
                "annotations whose category_id is not in categories: written as class 'category_<id>'",
                len(dangling),
                _examples(dangling),
            )
        )

    # boxes
    xyxy = anns[BOX_COLUMNS].to_numpy(dtype=np.float64)
    has_box = anns["x_min"].notna().to_numpy()
    nonfinite = has_box & ~np.isfinite(xyxy).all(axis=1)
    if nonfinite.any():
        ids = anns.index[nonfinite]
        losses.append(Loss("non-finite-box-dropped", "voc needs four finite box coordinates", len(ids), _examples(ids)))
    orphan = anns.index[~anns["image_id"].isin(ds.images.index).to_numpy()]
    if len(orphan):
        losses.append(
            Loss(
                "annotation-without-image",
                "annotations of image ids not in images: not written",
                len(orphan),
                _examples(orphan),
            )
        )

    # attributes
    dropped: list[int] = []
    retyped: list[int] = []
    dropped_keys: Counter[str] = Counter()
    for ann_id, attrs in zip(anns.index, anns["attributes"], strict=True):
        if not isinstance(attrs, dict) or not attrs:
            continue
        lost, typed = _check_attributes(attrs)
        if lost:
            dropped.append(int(ann_id))
            dropped_keys.update(lost)
        if typed:
            retyped.append(int(ann_id))
    if dropped:
        keys = ", ".join(k for k, _ in dropped_keys.most_common(MAX_EXAMPLES))
        losses.append(
            Loss(
                "attributes-dropped",
                f"voc holds flags, pose, parts, actions and scalar attributes only: dropped {keys}",
                len(dropped),
                _examples(dropped),
            )
        )
    if retyped:
        losses.append(
            Loss(
                "attributes-retyped",
                "text attribute values that look like numbers/booleans (or default flags) come back typed",
                len(retyped),
                _examples(retyped),
            )
        )

    in_default = ds.images.index[(ds.images["split"] == NO_SPLIT).fillna(False).to_numpy(dtype=bool)]
    if len(in_default):
        losses.append(
            Loss(
                "split-dropped",
                f"split {NO_SPLIT!r} is VOC/Datumaro's name for no split: read back without a split",
                len(in_default),
                _examples(in_default),
                unit="image",
            )
        )
    _, _, renamed = _voc_names(ds)
    if renamed:
        losses.append(
            Loss(
                "image-renamed",
                "images whose VOC id collides with another's (a.jpg/a.png, case) or has line breaks: "
                "written as <id>_<image_id>",
                len(renamed),
                _examples(renamed),
                unit="image",
            )
        )
    return losses


# --------------------------------------------------------------------------------------------
# write

_HEADER = '<?xml version="1.0" encoding="utf-8"?>\n<annotation>\n'
_DEFAULT_EXTRAS = "    <pose>Unspecified</pose>\n    <truncated>0</truncated>\n    <difficult>0</difficult>\n"


def write(ds: Dataset, out_dir: Path, *, images: str = "copy", **options: Any) -> WriteReport:
    """Write `ds` as Pascal VOC into the fresh folder `out_dir`.

    Writes ``Annotations/<id>.xml`` for every image (objects in annotation_id order, integer
    1-based coordinates from `boxes.xyxy_to_voc`), ``ImageSets/Main/<split>.txt`` per split
    (plus ``trainval.txt`` when train and val exist; images without a split in ``default.txt``),
    ``labelmap.txt`` in category_id order and the images in ``JPEGImages/``. Output is
    byte-deterministic (UTF-8, 2-space indentation, ``\\n`` line ends).

    Raises:
        OutputError: an image name would escape the output folder (``../``).
        UsageError: an unknown option or images mode.
    """
    if options:
        raise UsageError(f"voc writer: unknown option(s) {', '.join(sorted(options))}")
    out_dir = Path(out_dir)
    voc_ids, image_names, _ = _voc_names(ds)
    xml_paths = _member_paths(out_dir / ANNOTATIONS_DIR, [f"{voc_id}.xml" for voc_id in voc_ids])
    image_dst = _member_paths(out_dir / IMAGES_DIR, image_names)

    # categories, with a generated name for dangling ids
    cats = ds.categories
    anns = ds.annotations
    names_by_id = dict(zip(cats.index.tolist(), cats["name"].tolist(), strict=True))
    cat_attrs = dict(zip(cats.index.tolist(), cats["attributes"].tolist(), strict=True))
    for cid in sorted(set(anns["category_id"].tolist()) - set(names_by_id)):
        names_by_id[cid] = f"category_{cid}"
        cat_attrs[cid] = None
    order = sorted(names_by_id)
    escaped = {cid: _escape(str(names_by_id[cid]).strip()) for cid in order}

    # objects: one xml fragment per writable annotation, in (image_id, annotation_id) order
    xyxy = anns[BOX_COLUMNS].to_numpy(dtype=np.float64)
    keep = np.isfinite(xyxy).all(axis=1) & anns["image_id"].isin(ds.images.index).to_numpy()
    voc = np.round(boxes.xyxy_to_voc(xyxy[keep])).astype(np.int64).tolist() if keep.any() else []
    kept_cats = anns["category_id"].to_numpy()[keep].tolist()
    kept_attrs = anns["attributes"].to_numpy()[keep].tolist()
    fragments = []
    for cid, (x0, y0, x1, y1), attrs in zip(kept_cats, voc, kept_attrs, strict=True):
        head, tail = _DEFAULT_EXTRAS, ""
        if isinstance(attrs, dict) and attrs:
            head, tail = _extras_xml(attrs)
        fragments.append(
            f"  <object>\n    <name>{escaped[cid]}</name>\n{head}    <bndbox>\n"
            f"      <xmin>{x0}</xmin>\n      <ymin>{y0}</ymin>\n      <xmax>{x1}</xmax>\n      <ymax>{y1}</ymax>\n"
            f"    </bndbox>\n{tail}  </object>\n"
        )
    kept_image_ids = anns["image_id"].to_numpy()[keep]
    image_ids = ds.images.index.to_numpy()
    starts = np.searchsorted(kept_image_ids, image_ids, side="left").tolist()
    stops = np.searchsorted(kept_image_ids, image_ids, side="right").tolist()

    # xml files
    # NaN for <NA>: `w != w` tests it without a pandas call per image
    widths = ds.images["width"].to_numpy(dtype=np.float64, na_value=np.nan).tolist()
    heights = ds.images["height"].to_numpy(dtype=np.float64, na_value=np.nan).tolist()
    img_attrs = ds.images["attributes"].tolist()
    os.makedirs(out_dir / ANNOTATIONS_DIR, exist_ok=True)  # even for no images: the layout stays detectable
    made: set[str] = set()
    for k, xml_path in enumerate(xml_paths):
        name = image_names[k]
        folder, _, filename = f"{IMAGES_DIR}/{name}".rpartition("/")
        size = ""
        w, h = widths[k], heights[k]
        if w == w or h == h:
            depth = img_attrs[k].get("depth", 3) if isinstance(img_attrs[k], dict) else 3
            depth = _plain(depth) if isinstance(_plain(depth), int) else 3
            size = (
                "  <size>\n"
                + (f"    <width>{int(w)}</width>\n" if w == w else "")
                + (f"    <height>{int(h)}</height>\n" if h == h else "")
                + f"    <depth>{depth}</depth>\n  </size>\n"
            )
        text = (
            f"{_HEADER}  <folder>{_escape(folder)}</folder>\n  <filename>{_escape(filename)}</filename>\n{size}"
            f"  <segmented>0</segmented>\n{''.join(fragments[starts[k] : stops[k]])}</annotation>\n"
        )
        parent = xml_path.rpartition("/")[0] if os.sep == "/" else os.path.dirname(xml_path)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        with open(xml_path, "wb") as f:
            f.write(text.encode("utf-8"))

    # split lists
    split_dir = out_dir / SPLITS_DIR
    split_dir.mkdir(parents=True, exist_ok=True)
    split_col = ds.images["split"].astype(object).where(ds.images["split"].notna(), None).tolist()
    members: dict[str, list[str]] = {}
    for voc_id, split in zip(voc_ids, split_col, strict=True):
        members.setdefault(NO_SPLIT if split is None else str(split), []).append(voc_id)
    if "train" in members and "val" in members and "trainval" not in members:
        # VOC's own convention (mmdetection and others train on trainval.txt); read back as train/val
        listed = set(members["train"]) | set(members["val"])
        members["trainval"] = [v for v in voc_ids if v in listed]
    for split, split_ids in sorted(members.items()):
        split_path = safe_join(split_dir, f"{split}.txt")
        with open(split_path, "w", encoding="utf-8", newline="\n") as f:
            f.write("".join(f"{v}\n" for v in sorted(split_ids)))  # sorted: independent of image ids

    # labelmap in category_id order (class order survives the trip)
    lines = ["# label:color_rgb:parts:actions\n"]
    for cid in order:
        attrs = cat_attrs.get(cid)
        attrs = attrs if isinstance(attrs, dict) else {}
        color = attrs.get("color")
        color_text = ",".join(str(int(c)) for c in color) if isinstance(color, list | tuple) and len(color) == 3 else ""
        parts, actions = (attrs.get(k) for k in ("parts", "actions"))
        parts = ",".join(map(str, parts)) if isinstance(parts, list) else ""
        actions = ",".join(map(str, actions)) if isinstance(actions, list) else ""
        name = re.sub(r"[\r\n]+", " ", str(names_by_id[cid])).strip()
        lines.append(f"{name}:{color_text}:{parts}:{actions}\n")
    with open(out_dir / LABELMAP, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(lines))

    placed, missing = place_images(ds, image_dst, images)
    return WriteReport(
        format="voc",
        path=str(out_dir),
        images=len(voc_ids),
        annotations=len(fragments),
        categories=len(order),
        images_transferred=placed,
        images_missing=missing,
        options={"images": images},
    )


FORMAT = FormatSpec(
    "voc",
    "Pascal VOC xml: Annotations/, ImageSets/Main/<split>.txt, JPEGImages/, labelmap.txt",
    CAPABILITIES,
    detect,
    read,
    write,
    extensions=(".xml",),
    plan=plan,
)
