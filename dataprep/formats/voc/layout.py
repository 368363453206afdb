"""Where a VOC dataset's files are: detection, the folder layout, split lists and the labelmap.

Everything here looks at names and small text files (``ImageSets/Main/*.txt``,
``labelmap.txt``); the xml files themselves are parsed in `parse`.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from dataprep.errors import Finding, InputError
from dataprep.files import IMAGE_SUFFIXES, check_member, clean_members
from dataprep.formats.base import MAX_EXAMPLES, SPLIT_ALIASES, OnError

ANNOTATIONS_DIR = "Annotations"
IMAGES_DIR = "JPEGImages"
SPLITS_DIR = "ImageSets/Main"
LABELMAP = "labelmap.txt"
SEGMENTATION_DIRS = ("SegmentationClass", "SegmentationObject")
NO_SPLIT = "default"  # Datumaro's name for "no subset": read back as no split
_STANDARD_SPLITS = ("train", "val", "test", "trainval")
_CLASS_LIST_RE = re.compile(r"\S+\s+[+-]?\d+\s*\Z")  # "2007_000001  1": a per-class file line


class Collector:
    """Raise-or-collect policy for one read."""

    def __init__(self, on_error: OnError) -> None:
        self.on_error = on_error
        self.findings: list[Finding] = []

    def report(self, err: InputError, code: str) -> None:
        if self.on_error == "raise":
            raise err
        self.findings.append(err.to_finding(code))


# -- detect ------------------------------------------------------------------------------


def _root_tag(path: Path) -> str | None:
    """The root element name of an xml file, from its first few KB (comments skipped)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 (Windows tools): look at it as text
        head = head.decode("utf-16", "replace").encode("utf-8", "replace")
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


def _xml_files(folder: Path, *, count: int = 5, limit: int = 200) -> list[Path]:
    """Up to `count` xml files among the first `limit` entries of `folder` (sorted)."""
    found: list[Path] = []
    try:
        with os.scandir(folder) as it:
            for i, entry in enumerate(it):
                if i >= limit or len(found) >= count:
                    break
                name = entry.name
                if name.lower().endswith(".xml") and not name.startswith(".") and entry.is_file():
                    found.append(Path(entry.path))
    except OSError:
        return []
    return sorted(found)


def _holds_voc_xml(folder: Path) -> bool | None:
    """Whether a few of the folder's xml files are ``<annotation>`` (None: it has no xml file).

    More than the first file is looked at: one odd xml (a UTF-16 file, a stray config) must not
    make a whole folder undetectable (issue 7, item 21).
    """
    files = _xml_files(folder)
    if not files:
        return None
    return any(_root_tag(f) == "annotation" for f in files)


def _has_voc_annotations(folder: Path) -> bool:
    ann = folder / ANNOTATIONS_DIR
    if not ann.is_dir():
        return False
    holds = _holds_voc_xml(ann)
    if holds is None:  # labels in sub-folders, or an unlabelled dataset with split lists
        return (folder / SPLITS_DIR).is_dir() or any(p.is_dir() for p in ann.iterdir())
    return holds


def _split_folders(path: Path) -> list[Path]:
    """Split folders (``train/``, ``valid/``, ``test/``) holding VOC xml beside their images: Roboflow's layout."""
    try:
        subs = sorted(p for p in path.iterdir() if p.is_dir() and p.name.lower() in SPLIT_ALIASES)
    except OSError:
        return []
    return [p for p in subs if _holds_voc_xml(p)]


def _segmentation_only(path: Path) -> list[str]:
    """The mask folders of a VOC segmentation export without ``Annotations/`` (empty when not one)."""
    if (path / ANNOTATIONS_DIR).is_dir():
        return []
    return [d for d in SEGMENTATION_DIRS if (path / d).is_dir()]


def _child_datasets(path: Path) -> list[Path]:
    """Sub-folders that are VOC datasets (``VOCdevkit/VOC2007``)."""
    try:
        subs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []
    return [p for p in subs if _has_voc_annotations(p)]


def detect(path: Path) -> float | None:
    """Confidence that `path` is a Pascal VOC dataset folder.

    0.9 for a folder with ``Annotations/`` holding ``<annotation>`` xml, 0.85 for Roboflow's split
    folders of xml and images, 0.8 for a folder holding one such dataset (``VOCdevkit/``), 0.7
    for a segmentation-only export (refused by the reader), 0.6 for a bare folder of
    ``<annotation>`` xml files.
    """
    path = Path(path)
    if not path.is_dir():
        return None
    if _has_voc_annotations(path):
        return 0.9
    if _holds_voc_xml(path):
        return 0.6
    if _child_datasets(path):
        return 0.8
    if _split_folders(path):
        return 0.85
    if _segmentation_only(path):
        return 0.7  # beats class folders (0.5): the reader says what it is
    return None


# -- the folders -------------------------------------------------------------------------


@dataclasses.dataclass
class Layout:
    """Where one VOC dataset's files are."""

    root: Path
    annotations: Path  # folder of xml files
    images: Path | None  # folder of image files
    images_rel: str  # `images` relative to root ("" for a bare folder)
    split_dir: Path | None
    notes: list[str]
    folder_splits: bool = False  # Roboflow: the first folder of a VOC id is its split


def resolve_layout(path: Path) -> Layout:
    """The dataset folder `path` names: itself, its parent (given ``Annotations/``) or its one child.

    Raises:
        InputError: `path` is missing or not a folder, or holds several VOC datasets.
    """
    if not path.exists():
        raise InputError(path, "no such file or directory", hint="Check the path")
    if not path.is_dir():
        raise InputError(path, "not a folder", hint="Pass the VOC dataset folder (the one holding Annotations/)")
    notes: list[str] = []
    if not (path / ANNOTATIONS_DIR).is_dir() and path.name == ANNOTATIONS_DIR and (path.parent / IMAGES_DIR).is_dir():
        notes.append(f"read the dataset at {path.parent} (given its {ANNOTATIONS_DIR}/ folder)")
        path = path.parent
    masks = _segmentation_only(path)
    if masks and _first_xml(path) is None:
        raise InputError(
            path,
            f"a VOC segmentation export ({', '.join(d + '/' for d in masks)} masks) without {ANNOTATIONS_DIR}/: "
            "dataprep reads VOC objects from Annotations/*.xml and does not read masks",
            hint="Export the objects too (CVAT, Datumaro: 'PASCAL VOC' with annotations), or read "
            f"{IMAGES_DIR}/ as unlabelled images",
        )
    if not (path / ANNOTATIONS_DIR).is_dir() and _first_xml(path) is None:
        splits = _split_folders(path)
        if splits:
            notes.append(
                "layout: split folders holding VOC xml beside the images (Roboflow): "
                + ", ".join(p.name for p in splits)
            )
            return Layout(path, path, path, "", None, notes, folder_splits=True)
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
        return Layout(
            path,
            path / ANNOTATIONS_DIR,
            images if images.is_dir() else None,
            images.name,
            split_dir if split_dir.is_dir() else None,
            notes,
        )
    notes.append("layout: a bare folder of VOC xml files (no Annotations/), images looked up beside them")
    return Layout(path, path, path, "", None, notes)


def list_xml(folder: Path) -> tuple[dict[str, str], int]:
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


def index_files(folder: Path | None) -> tuple[set[str], dict[str, str]]:
    """Files under `folder` as POSIX paths relative to it, and image stem -> first such path."""
    files: set[str] = set()
    by_stem: dict[str, str] = {}
    if folder is None:
        return files, by_stem
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


def image_file_names(
    voc_ids: list[str],
    filenames: list[str | None],
    image_files: set[str],
    image_stems: dict[str, str],
    prefix: str,
) -> tuple[list[str], int]:
    """Each image's ``file_name`` (relative to the root) and how many `<filename>` fell back.

    The image is ``<filename>`` beside the id's sub-folder, as given, then the id with any image
    suffix, else the guess ``<filename>`` (``<id>.jpg`` without one). A ``<filename>`` that
    `files.clean_members` refuses (absolute, ``..``) falls back to its base name.
    """
    given = [f or "" for f in filenames]
    clean, bad = clean_members(given)
    fallbacks = 0
    for k in np.flatnonzero(bad & np.array([bool(f) for f in given], dtype=bool)).tolist():
        clean[k] = PurePosixPath(given[k].replace("\\", "/")).name
        fallbacks += 1
    out = []
    for voc_id, filename in zip(voc_ids, clean.tolist(), strict=True):
        found = guess = None
        if filename:
            id_dir = voc_id.rpartition("/")[0]
            candidates = [f"{id_dir}/{filename}", filename] if id_dir and "/" not in filename else [filename]
            found = next((c for c in candidates if c in image_files), None)
            guess = candidates[0]
            if found is None:
                stem = filename.rpartition(".")[0] or filename
                found = image_stems.get(f"{id_dir}/{stem}" if id_dir and "/" not in stem else stem)
        out.append(prefix + (found or image_stems.get(voc_id) or guess or f"{voc_id}.jpg"))
    return out, fallbacks


# -- split lists -------------------------------------------------------------------------


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


def _read_split_ids(path: Path, collector: Collector) -> list[str]:
    """The ids listed in one split file, cleaned by `files.clean_members`; unsafe ones reported."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(path, f"not UTF-8 text ({err.reason} at byte {err.start})", hint="Save it as UTF-8") from None
    numbered = [  # blank lines and '# comments' are not ids (as in VOC tools; issue 7, item 16)
        (number, line)
        for number, raw in enumerate(text.splitlines(), 1)
        if (line := raw.strip()) and not line.startswith("#")
    ]
    clean, bad = clean_members([line for _, line in numbered])
    for k in np.flatnonzero(bad).tolist():
        number, line = numbered[k]
        try:
            check_member(line, path=path, record=f"line {number}")
        except InputError as err:
            err.line = number
            collector.report(err, "invalid-record")
    return clean[~bad].tolist()


def read_splits(layout: Layout, collector: Collector) -> dict[str, str]:
    """VOC id -> split from ``ImageSets/Main``, the most specific split winning (noted)."""
    split_of: dict[str, str] = {}
    if layout.split_dir is None:
        return split_of
    notes = layout.notes
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


# -- labelmap ----------------------------------------------------------------------------


def _labelmap_rows(path: Path, collector: Collector) -> list[tuple[str, dict[str, Any] | None]]:
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
        name, attrs = _labelmap_line(line, path, number, collector)
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


def _labelmap_line(line: str, path: Path, number: int, collector: Collector) -> tuple[str, dict[str, Any]]:
    """One ``name:r,g,b:part,part:action,action`` line -> ``(name, attributes)``; a bad colour is reported."""
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
    return name, attrs


def categories_frame(
    root: Path, used: list[str], collector: Collector, notes: list[str]
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
