"""Where a COCO dataset's json files and images are: layouts, splits, and image lookup on disk.

Layouts (``root`` is the dataset folder):

- ``annotations/instances_<split>.json`` (else ``person_keypoints_<split>.json``, else any
  ``annotations/*.json`` with ``"images"``), images in ``images/<split>/``, a flat ``images/``
  or a COCO-2017 style ``<split>/`` beside ``annotations/``;
- Roboflow: ``<split>/_annotations.coco.json`` with the images beside it;
- a single json file: images beside it, in its ``images/`` (or ``data/``, FiftyOne), or in the
  parent folder's ``images/``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dataprep.errors import InputError

DEFAULT_SPLIT_NAME = "default"  # CVAT/Datumaro's file name for "no subset": instances_default.json
ROBOFLOW_NAME = "_annotations.coco.json"

_INSTANCES_RE = re.compile(r"^instances_(.+)\.json$", re.IGNORECASE)
_KEYPOINTS_RE = re.compile(r"^person_keypoints_(.+)\.json$", re.IGNORECASE)  # boxes too, for COCO keypoints
_IMAGE_DIR_NAMES = ("images", "data")
_HEAD_BYTES = 1 << 16  # enough to pass a long "info"/"licenses" block
_CONFIDENCE = {"annotations": 0.95, "roboflow": 0.95, "roboflow-split": 0.9, "single": 0.6}


@dataclass
class Source:
    """One json file, its split, and the folders (relative to the layout's root) its images may be in."""

    path: Path
    split: str | None  # the split column value (None = no split)
    tag: str | None  # the raw split-like name used to look for image folders
    prefixes: list[str]


@dataclass
class Layout:
    """The json files to read, in split order, and the dataset root their images are relative to."""

    kind: str  # annotations | roboflow | roboflow-split | single
    root: Path  # the dataset folder
    sources: list[Source]
    notes: list[str] = field(default_factory=list)
    inner: str = ""  # single file: the json folder's name, stripped from file names if all images are there


# ---------------------------------------------------------------------------------------
# detect and find


def detect(path: Path) -> float | None:
    """Confidence that `path` is a COCO dataset (a json file or a folder with a COCO layout).

    Reads at most the first few KB of a few json files.
    """
    p = Path(path)
    if p.is_file():
        return 0.9 if p.suffix.lower() == ".json" and sniff(p) else None
    if not p.is_dir():
        return None
    try:
        kind = find_sources(p, sniff_only=True).kind
    except (InputError, OSError):
        return None
    return _CONFIDENCE[kind]


def sniff(path: Path) -> bool:
    """True when the first bytes of `path` look like a COCO dataset object (not a results list)."""
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD_BYTES)
    except OSError:
        return False
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not head.startswith(b"{"):
        return False
    return b'"images"' in head or b'"annotations"' in head or b'"categories"' in head


def find_sources(path: Path, *, sniff_only: bool = False) -> Layout:
    """Which json files to read, their splits, and the dataset root.

    Raises:
        InputError: no COCO json found.
    """
    p = Path(path)
    if p.is_file():
        return _single_file_layout(p)
    if p.name.lower() == "annotations" and any(p.glob("*.json")):
        p = p.parent
    ann_dir = next((d for d in (p / "annotations", p / "Annotations") if d.is_dir()), None)
    if ann_dir is not None:
        layout = _annotations_folder_layout(p, ann_dir, sniff_only=sniff_only)
        if layout is not None:
            return layout
    with os.scandir(p) as it:  # scandir: no stat per entry in a folder of 50k images
        entries = [(e.name, e.is_dir()) for e in it]
    roboflow = sorted(p / n for n, is_dir in entries if is_dir and (p / n / ROBOFLOW_NAME).is_file())
    if roboflow:
        sources = [Source(d / ROBOFLOW_NAME, d.name, d.name, [d.name, f"{d.name}/images"]) for d in roboflow]
        return Layout("roboflow", p, _sorted_sources(sources))
    if (p / ROBOFLOW_NAME).is_file():
        layout = _single_file_layout(p / ROBOFLOW_NAME)
        layout.kind = "roboflow-split"
        return layout
    lone = sorted(p / n for n, is_dir in entries if not is_dir and n.lower().endswith(".json") and sniff(p / n))
    if len(lone) == 1:
        layout = _single_file_layout(lone[0])
        layout.kind = "single"
        return layout
    if len(lone) > 1:
        return Layout("single", p, _sorted_sources([_split_source(f, f.stem) for f in lone]))
    raise InputError(
        p,
        "no COCO json found",
        hint="Expected annotations/instances_<split>.json, <split>/_annotations.coco.json or a COCO .json file",
    )


def _annotations_folder_layout(root: Path, ann_dir: Path, *, sniff_only: bool) -> Layout | None:
    """The instances (else keypoints, else any COCO) json files of an ``annotations/`` folder; None if none."""
    with os.scandir(ann_dir) as it:  # VOC's Annotations/ may hold 17k xml files: no Path or stat each
        jsons = sorted(ann_dir / e.name for e in it if e.name.lower().endswith(".json") and e.is_file())
    instances = [f for f in jsons if _INSTANCES_RE.match(f.name)]
    keypoints = [f for f in jsons if _KEYPOINTS_RE.match(f.name)]
    chosen = instances or keypoints or [f for f in jsons if sniff(f)]
    if not chosen:
        return None
    notes = []
    ignored = [f.name for f in jsons if f not in chosen]
    if ignored and not sniff_only:
        notes.append(f"read {', '.join(f.name for f in chosen)}; ignored {', '.join(ignored)}")
    sources = [_split_source(f, f.stem if len(chosen) > 1 else None) for f in chosen]
    return Layout("annotations", root, _sorted_sources(sources), notes)


def _split_source(path: Path, fallback_tag: str | None) -> Source:
    """A json file whose split is the suffix of ``instances_<split>.json``, else `fallback_tag`."""
    tag = _tag_from_name(path.name) or fallback_tag
    return Source(path, _split_of(tag), tag, _image_prefixes(tag))


def _single_file_layout(path: Path) -> Layout:
    json_dir = path.parent
    tag = _tag_from_name(path.name)
    if json_dir.name.lower() == "annotations":
        return Layout("single", json_dir.parent, [Source(path, _split_of(tag), tag, _image_prefixes(tag))])
    name = json_dir.name
    if name in ("", ".", ".."):
        json_dir = Path(os.path.abspath(json_dir))
        name = json_dir.name
    outer = json_dir.parent
    return Layout("single", outer, [Source(path, _split_of(tag), tag, _image_prefixes(tag, inner=name))], inner=name)


def _sorted_sources(sources: list[Source]) -> list[Source]:
    return sorted(sources, key=lambda s: (_split_order(s.tag), s.path.name))


def _split_order(name: str | None) -> tuple[int, str]:
    text = (name or "").lower()
    for rank, prefix in enumerate(("train", "val", "test")):
        if text.startswith(prefix):
            return rank, text
    return 3, text


def _tag_from_name(name: str) -> str | None:
    m = _INSTANCES_RE.match(name) or _KEYPOINTS_RE.match(name)
    return m.group(1) if m else None


def _split_of(tag: str | None) -> str | None:
    return None if tag is None or tag.lower() == DEFAULT_SPLIT_NAME else tag


def _image_prefixes(tag: str | None, *, inner: str = "") -> list[str]:
    """Folders (relative to the dataset root) where images of a json file may be, most likely first."""
    join = lambda *parts: "/".join(p for p in parts if p)  # noqa: E731
    out: list[str] = []
    if inner:
        out += [
            inner,
            *(join(inner, d, tag) for d in _IMAGE_DIR_NAMES if tag),
            *(join(inner, d) for d in _IMAGE_DIR_NAMES),
        ]
    if tag and _split_of(tag) is not None:
        out.append(join("images", tag))
    out += list(_IMAGE_DIR_NAMES)
    if tag and _split_of(tag) is None:  # instances_default.json: our flat images/ first, then CVAT's images/default/
        out.append(join("images", tag))
    if tag:
        out.append(tag)
    out.append("")
    seen: set[str] = set()
    return [p for p in out if not (p in seen or seen.add(p))]


def relative(path: Path, root: Path) -> str:
    """`path` relative to `root` as a POSIX string, or the whole path when it is not below it."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------------------
# images on disk


class _Listings:
    """Cached directory listings: ``base/prefix/subdir`` -> the set of names in it."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.cache: dict[str, frozenset[str]] = {}

    def names(self, folder: str) -> frozenset[str]:
        found = self.cache.get(folder)
        if found is None:
            try:
                found = frozenset(os.listdir(self.base / folder if folder else self.base))
            except OSError:
                found = frozenset()
            self.cache[folder] = found
        return found

    def exists(self, folder: str) -> bool:
        return bool(self.names(folder))


def _lookup_names(names: list[str]) -> list[str]:
    """Names as looked for on disk: ``/`` separators, no ``./``; absolute paths by their base name."""
    joined = "\n".join(names)
    if "\\" not in joined and "./" not in joined and "\n/" not in "\n" + joined and ":" not in joined:
        return names
    out = []
    for name in names:
        name = name.replace("\\", "/")
        if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
            name = name.rsplit("/", 1)[-1]
        out.append(name.removeprefix("./"))
    return out


def locate_images(
    names: list[str], file_index: npt.NDArray[np.int64], prefixes: list[list[str]], layout: Layout, notes: list[str]
) -> tuple[list[str], Path]:
    """Find each image on disk; return file names relative to the dataset root, and that root.

    Each image is looked for under its json file's candidate folders in order, with one
    directory listing per folder (no stat per image). An image found nowhere gets the folder
    where most images of its file were found (else the first existing candidate) as a best
    guess, and a note counts them.
    """
    listings = _Listings(layout.root)
    out = list(names)
    lookups = _lookup_names(names)
    flat = "/" not in "".join(lookups)
    missing = 0
    for n, candidates in enumerate(prefixes):
        rows = np.flatnonzero(file_index == n).tolist() if len(prefixes) > 1 else list(range(len(names)))
        if not rows:
            continue
        unresolved, hits = _search(rows, candidates, lookups, flat, listings, out)
        if unresolved:
            missing += len(unresolved)
            _guess(unresolved, candidates, hits, names, lookups, listings, out)
    root = layout.root
    if layout.inner:
        prefix = layout.inner + "/"
        if all(n.startswith(prefix) for n in out):
            out = [n[len(prefix) :] for n in out]
            root = layout.root / layout.inner
    if missing:
        where = ", ".join(f"{p}/" if p else "./" for p in prefixes[0][:4]) if prefixes else ""
        notes.append(
            f"{missing} image files not found (looked under {root} in {where}...); file names are best guesses"
        )
    return out, root


def _search(
    rows: list[int], candidates: list[str], lookups: list[str], flat: bool, listings: _Listings, out: list[str]
) -> tuple[list[int], list[int]]:
    """Set ``out[r]`` for the `rows` found under a candidate folder; return the rest and hits per candidate."""
    pending: dict[str, list[int]] = {}  # folder part of the name -> rows still unfound
    if flat:
        pending[""] = rows
    else:
        for r in rows:
            pending.setdefault(lookups[r].rpartition("/")[0], []).append(r)
    hits = [0] * len(candidates)
    for c, prefix in enumerate(candidates):
        if prefix and not listings.exists(prefix):
            continue
        for folder in list(pending):
            listing = listings.names(f"{prefix}/{folder}" if prefix and folder else prefix or folder)
            if not listing:
                continue
            group = pending[folder]
            start = len(folder) + 1 if folder else 0
            found = [r for r in group if lookups[r][start:] in listing]
            if not found:
                continue
            for r in found:
                out[r] = f"{prefix}/{lookups[r]}" if prefix else lookups[r]
            hits[c] += len(found)
            rest = [r for r in group if lookups[r][start:] not in listing] if len(found) < len(group) else []
            if rest:
                pending[folder] = rest
            else:
                del pending[folder]
        if not pending:
            break
    return [r for group in pending.values() for r in group], hits


def _guess(
    unresolved: list[int],
    candidates: list[str],
    hits: list[int],
    names: list[str],
    lookups: list[str],
    listings: _Listings,
    out: list[str],
) -> None:
    """Place images found nowhere in the folder most of their file's images are in (else the first that exists)."""
    if any(hits):
        guess = candidates[int(np.argmax(hits))]
    else:
        guess = next((p for p in candidates if p and listings.exists(p)), candidates[0])
    if not guess:
        return
    for r in unresolved:
        name = lookups[r] if lookups[r] == names[r] else names[r].replace("\\", "/").removeprefix("./")
        absolute = name.startswith("/") or (len(name) > 1 and name[1] == ":")
        out[r] = name if absolute else f"{guess}/{name}"
