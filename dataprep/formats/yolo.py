"""YOLO txt labels in the Ultralytics (``data.yaml``) and darknet (``obj.data``) layouts.

One label file per image, one object per line, coordinates normalized by the image size:

- ``class cx cy w h``: a box (normalized centre and size);
- ``class cx cy w h conf``: a predicted box with its confidence;
- ``class x1 y1 ... xk yk`` (k >= 3): a polygon, whose box is the polygon's bounds;
- ``class x1 y1 ... xk yk conf``: a predicted polygon (Ultralytics ``save_conf``).

Class indices are 0-based; in the model ``category_id = class index + 1`` so COCO output never
has category 0 (which pycocotools treats as "unmatched"). Absolute coordinates need the image
size, read from the image header with its EXIF orientation applied (the label coordinates are
relative to the image as displayed, which is how Ultralytics and OpenCV load it).

Layouts read: Ultralytics ``data.yaml`` (splits as folders, ``.txt`` lists of images, or lists
of those; labels found by replacing the last ``images`` path component with ``labels``),
darknet ``obj.data`` (list files, labels beside the images), and loose folders without a config
(``images/`` + ``labels/``, ``Images/`` + ``Annotations/``, or labels beside the images, with
``obj.names``/``classes.txt`` for the class names). Layouts written: ``ultralytics`` and
``darknet``.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dataprep.boxes import cxcywh_norm_to_xyxy, xyxy_to_cxcywh_norm
from dataprep.dataset import Dataset
from dataprep.errors import Finding, InputError, UsageError
from dataprep.files import IMAGE_MODES, IMAGE_SUFFIXES, probe_image, read_yaml, safe_join
from dataprep.formats.base import (
    MAX_EXAMPLES,
    SPLIT_ALIASES,
    UNASSIGNED_SPLIT,
    Capabilities,
    FormatSpec,
    Loss,
    ReadResult,
    WriteReport,
    image_layout,
    place_images,
    plan_losses,
)

LAYOUTS = ("ultralytics", "darknet")
TASKS = ("detect", "segment")

# (image folder, label folder) pairs: Ultralytics replaces the last `images` component with
# `labels`; darknet's VOC scripts put labels/ beside JPEGImages/; datumaro's loose YOLO layout
# pairs Images/ with Annotations/. A label beside its image is the last resort (darknet).
_MIRRORS = (("images", "labels"), ("JPEGImages", "labels"), ("Images", "Annotations"))
_NAMES_FILES = ("obj.names", "classes.names", "classes.txt", "names.txt")
_CONFIG_YAMLS = ("data.yaml", "data.yml", "dataset.yaml", "dataset.yml")
# .txt files that sit among labels but are not label files.
_NOT_LABELS = frozenset(
    {"readme.txt", "license.txt", "licence.txt", "notes.txt", "train.txt", "val.txt", "valid.txt", "test.txt"}
    | set(_NAMES_FILES)
)
# data.yaml keys that are not splits (the rest are, when their value names existing images).
_YAML_RESERVED = frozenset(
    {"path", "names", "nc", "download", "kpt_shape", "flip_idx", "channels", "yaml_file", "roboflow", "license", "url"}
)
_DARKNET_SPLIT_KEYS = {"train": "train", "valid": "val", "val": "val", "test": "test"}
_DARKNET_RESERVED = frozenset({"classes", "names", "backup", "eval", "results", "map", "top"})

_LINE_HINT = "Each line is 'class cx cy w h' (normalized; add a 6th 'conf' for predictions) or 'class x1 y1 x2 y2 ...'"
_ORPHAN_HINT = (
    "Add the image (same name, in the matching images folder), delete the label file, or use --on-error collect"
)

# ---------------------------------------------------------------------------------------------
# detect


def detect(path: Path) -> float | None:
    """Confidence that `path` is a YOLO dataset: 0.9 with a config or names file, 0.5 for a labels/ folder."""
    path = Path(path)
    try:
        if path.is_file():
            return _detect_file(path)
        if not path.is_dir():
            return None
        entries = {e.name: e for e in os.scandir(path)}
    except OSError:
        return None
    for name in _CONFIG_YAMLS:
        if name in entries and _detect_file(path / name):
            return 0.9
    if "obj.data" in entries:
        return 0.9
    has_names = any(n in entries for n in _NAMES_FILES)
    for label_dir in ("labels", "Annotations", "Labels"):
        if label_dir in entries and entries[label_dir].is_dir() and _has_txt(path / label_dir, depth=2):
            return 0.9 if has_names else 0.5
    if has_names and _has_txt(path, depth=2, skip=_NOT_LABELS):
        return 0.9
    # Roboflow's export without its data.yaml: train/labels, valid/labels...
    for split in entries:
        if split.lower() in SPLIT_ALIASES and _has_txt(path / split / "labels", depth=1):
            return 0.5
    return None


def _detect_file(path: Path) -> float | None:
    if path.suffix.lower() in (".yaml", ".yml"):
        head = _head(path)
        return 0.9 if re.search(r"^(names|nc)\s*:", head, re.M) else None
    if path.suffix.lower() == ".data":
        head = _head(path)
        return 0.9 if re.search(r"^\s*(names|classes)\s*=", head, re.M) else None
    return None


def _head(path: Path, size: int = 65536) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(size).decode("utf-8", "replace")
    except OSError:
        return ""


def _has_txt(folder: Path, *, depth: int, skip: frozenset[str] = frozenset()) -> bool:
    """True when `folder` (or a sub-folder, `depth` levels down) has a .txt file; stops at the first."""
    subdirs = []
    try:
        with os.scandir(folder) as it:
            for e in it:
                name = e.name.lower()
                if name.endswith(".txt") and name not in skip and e.is_file():
                    return True
                if depth > 1 and not name.startswith(".") and e.is_dir():
                    subdirs.append(e.path)
    except OSError:
        return False
    return any(_has_txt(Path(d), depth=depth - 1) for d in subdirs)


# ---------------------------------------------------------------------------------------------
# read: finding the images, their label files and the class names


@dataclass
class _Ctx:
    """Error policy and what the reader says about its guesses."""

    on_error: str
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fail(self, err: InputError, code: str) -> None:
        if self.on_error == "raise":
            raise err
        self.findings.append(err.to_finding(code))


class _Listing:
    """Cached directory listings: one ``os.listdir`` per folder instead of a stat per file."""

    def __init__(self) -> None:
        self._cache: dict[str, frozenset[str]] = {}
        self.walked: dict[str, list[str]] = {}  # folder -> image files under it (see `_walk_images`)

    def names(self, folder: str) -> frozenset[str]:
        try:
            return self._cache[folder]
        except KeyError:
            try:
                found = frozenset(os.listdir(folder))
            except OSError:
                found = frozenset()
            self._cache[folder] = found
            return found

    def add(self, folder: str, names: Iterable[str]) -> None:
        self._cache[folder] = frozenset(names)

    def folders(self) -> list[str]:
        return sorted(self._cache)

    def exists(self, path: str) -> bool:
        folder, _, name = path.rpartition(os.sep)
        return name in self.names(folder or os.sep)


@dataclass
class _Layout:
    """What the layout resolution found: the images (with splits), names and stray labels."""

    kind: str
    root: str
    config: str | None = None
    image_paths: list[str] = field(default_factory=list)  # absolute, normalized
    image_splits: list[str | None] = field(default_factory=list)
    names: dict[int, str] | None = None
    names_source: str | None = None
    keypoints: int = 0  # numbers per row after the box in a pose dataset (kpt_shape)


def _is_image(name: str) -> bool:
    dot = name.rfind(".")
    return dot > 0 and name[dot:].lower() in IMAGE_SUFFIXES


def _walk_images(top: str, listing: _Listing) -> list[str]:
    """Image files under `top`, recursively (hidden folders skipped), sorted."""
    if top in listing.walked:
        return listing.walked[top]
    found: list[str] = []
    for folder, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        listing.add(folder, [*files, *dirs])
        prefix = folder.rstrip(os.sep) + os.sep
        found.extend(prefix + f for f in files if _is_image(f))
    listing.walked[top] = sorted(found)
    return listing.walked[top]


def _relative(paths: list[str], root: str) -> list[str]:
    """POSIX paths of `paths` relative to `root` (a string prefix cut where it is one: 50k
    `os.path.relpath` calls cost seconds)."""
    prefix = root.rstrip(os.sep) + os.sep
    cut = len(prefix)
    out = [p[cut:] if p.startswith(prefix) else os.path.relpath(p, root) for p in paths]
    return [p.replace(os.sep, "/") for p in out] if os.sep != "/" else out


def _norm_parts(text: str) -> list[str]:
    return [p for p in text.strip().replace("\\", "/").split("/") if p not in ("", ".")]


def _resolve(text: str, bases: list[str], exists: Any = os.path.exists) -> tuple[str, int] | None:
    """Find the file or folder a config or list entry names: ``(base, parts dropped)`` or None.

    Tried in order: the entry under each base; then with leading components dropped one at a
    time (``../train/images`` from a Roboflow data.yaml, ``data/obj_train_data/1.jpg`` from a
    darknet list made for darknet's own ``data/`` folder, absolute paths from another machine).
    An absolute entry that exists is used as it is (base ``""``).
    """
    raw = text.strip().replace("\\", "/")
    if os.path.isabs(raw) and exists(os.path.normpath(raw)):
        return "", 0
    parts = _norm_parts(raw)
    if not parts:  # "." names the base folder itself
        return (bases[0], 0) if bases and exists(bases[0]) else None
    for drop in range(len(parts)):
        rest = parts[drop:]
        if drop and rest[0] == "..":
            continue
        for base in bases:
            if exists(os.path.normpath(os.path.join(base, *rest))):
                return base, drop
    return None


def _apply(text: str, how: tuple[str, int]) -> str:
    base, drop = how
    if not base:
        return os.path.normpath(text.strip().replace("\\", "/"))
    return os.path.normpath(os.path.join(base, *_norm_parts(text)[drop:]))


def _read_text(path: str, *, what: str) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise InputError(path, f"cannot read the {what}: {err.strerror or err}", hint="Check the file") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\x00" in data:
        raise InputError(path, f"the {what} holds binary data (NUL bytes)", hint="Replace it with a text file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputError(
            path, f"the {what} is not UTF-8 text (byte 0x{data[err.start]:02x})", line=line, hint="Save it as UTF-8"
        ) from None


def _locate(path: Path, ctx: _Ctx) -> tuple[str, str | None, str]:
    """``(kind, config file, root)`` for a dataset folder, a data.yaml or an obj.data file."""
    p = os.path.abspath(path)
    if os.path.isfile(p):
        low = p.lower()
        if low.endswith((".yaml", ".yml")):
            return "ultralytics", p, os.path.dirname(p)
        if low.endswith(".data"):
            return "darknet", p, os.path.dirname(p)
        raise InputError(p, "not a YOLO dataset file", hint="Pass the dataset folder, its data.yaml or its obj.data")
    try:
        names = set(os.listdir(p))
    except OSError as err:
        raise InputError(p, f"cannot list the folder: {err.strerror or err}", hint="Check the path") from None
    for name in _CONFIG_YAMLS:
        if name in names:
            return "ultralytics", os.path.join(p, name), p
    yamls = sorted(n for n in names if n.lower().endswith((".yaml", ".yml")) and _detect_file(Path(p, n)))
    if len(yamls) == 1:
        ctx.notes.append(f"config: {yamls[0]}")
        return "ultralytics", os.path.join(p, yamls[0]), p
    if len(yamls) > 1:
        raise InputError(
            p,
            f"several dataset yaml files: {', '.join(yamls)}",
            hint="Pass the one to read as the path (e.g. dataprep convert DATASET/" + yamls[0] + " ...)",
        )
    if "obj.data" in names:
        return "darknet", os.path.join(p, "obj.data"), p
    datas = sorted(n for n in names if n.lower().endswith(".data") and _detect_file(Path(p, n)))
    if len(datas) == 1:
        return "darknet", os.path.join(p, datas[0]), p
    return "loose", None, p


def _parse_names_list(values: list[Any], source: str, ctx: _Ctx) -> dict[int, str]:
    names: dict[int, str] = {}
    blank = []
    for i, v in enumerate(values):
        text = "" if v is None else str(v).strip()
        if not text:
            blank.append(i)
            text = f"class_{i}"
        names[i] = text
    if blank:
        ctx.notes.append(f"{source}: {len(blank)} empty class names (indices {_short(blank)}) named class_<index>")
    return names


def _names_file(path: str, ctx: _Ctx) -> dict[int, str]:
    lines = [line.rstrip("\r") for line in _read_text(path, what="class names file").split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    return _parse_names_list(lines, os.path.basename(path), ctx)


def _unique_names(names: dict[int, str], ctx: _Ctx) -> dict[int, str]:
    """Rename repeated class names (``name_<index>``): the model needs unique names."""
    seen: set[str] = set()
    out: dict[int, str] = {}
    renamed = []
    for i in sorted(names):
        name = names[i]
        if name in seen:
            candidate = f"{name}_{i}"
            while candidate in seen or candidate in names.values():
                candidate += "_"
            renamed.append(f"{name!r} at index {i} -> {candidate!r}")
            name = candidate
        seen.add(name)
        out[i] = name
    if renamed:
        ctx.notes.append(f"repeated class names renamed: {'; '.join(renamed[:MAX_EXAMPLES])}")
    return out


def _short(values: list[Any], n: int = MAX_EXAMPLES) -> str:
    text = ", ".join(str(v) for v in values[:n])
    return text + (f" (+{len(values) - n} more)" if len(values) > n else "")


def _yaml_layout(config: str, ctx: _Ctx, listing: _Listing) -> _Layout:
    doc = read_yaml(config)[0]  # refuses alias bombs and deep nesting before building anything
    if not isinstance(doc, dict):
        raise InputError(
            config,
            f"expected a mapping of keys (train, val, names...), got {type(doc).__name__}",
            hint="See https://docs.ultralytics.com/datasets/detect/ for the data.yaml keys",
        )
    ydir = os.path.dirname(config)
    layout = _Layout("ultralytics", ydir, config=config)
    layout.names = _yaml_names(doc, config, ctx)
    layout.names_source = os.path.basename(config)
    kpt = doc.get("kpt_shape")
    if isinstance(kpt, list) and kpt and all(isinstance(k, int) and k > 0 for k in kpt):
        layout.keypoints = int(np.prod(kpt))
        ctx.notes.append(f"pose dataset (kpt_shape {kpt}): keypoints are not read, their boxes are")

    bases = [ydir]
    root_text = doc.get("path")
    if isinstance(root_text, str) and root_text.strip():
        candidate = root_text if os.path.isabs(root_text) else os.path.join(ydir, root_text)
        if os.path.isdir(candidate):
            bases = [os.path.normpath(candidate), ydir]
        else:
            ctx.notes.append(
                f"data.yaml path {root_text!r} not found: split folders resolved from the data.yaml folder"
            )
    layout.root = bases[0]
    if "val" not in doc and "validation" in doc:
        doc["val"] = doc.pop("validation")

    split_keys = [k for k in ("train", "val", "test", "minival") if doc.get(k)]
    extra = []
    for key, value in doc.items():
        if key in split_keys or key in ("path", "names", "nc", "kpt_shape", "train", "val", "test", "minival"):
            continue
        entries = value if isinstance(value, list) else [value]
        if key not in _YAML_RESERVED and entries and all(_names_images(e, bases) for e in entries):
            split_keys.append(key)  # a split of its own name (what we write for e.g. "unassigned")
        else:
            extra.append(key)
    if extra:
        ctx.notes.append(f"data.yaml keys not read: {', '.join(sorted(extra))}")
    if not split_keys:
        raise InputError(
            config,
            "no split lists images (train, val, test are all missing or empty)",
            record="train",
            hint="Add train: images/train (a folder, a .txt list of images, or a list of those)",
        )
    per_key: dict[str, list[str]] = {}
    for key in split_keys:
        value = doc[key]
        entries = value if isinstance(value, list) else [value]
        paths: list[str] = []
        for j, entry in enumerate(entries):
            record = key if not isinstance(value, list) else f"{key}[{j}]"
            if not isinstance(entry, str) or not entry.strip():
                raise InputError(
                    config,
                    f"{key} must name a folder or a .txt list of images, got {entry!r}",
                    record=record,
                    hint="Write e.g. train: images/train",
                )
            how = _resolve(entry, bases)
            if how is None:
                ctx.fail(
                    InputError(
                        config,
                        f"{key}: {entry!r} not found (looked under {bases[0]})",
                        record=record,
                        hint="Fix the path (relative to the data.yaml folder or its 'path') or remove the key",
                    ),
                    "missing-split",
                )
                continue
            target = _apply(entry, how)
            if os.path.isdir(target):
                paths.extend(_walk_images(target, listing))
            elif target.lower().endswith(".txt"):
                paths.extend(_list_file(target, [os.path.dirname(target), *bases], ctx, listing))
            elif _is_image(target):
                paths.append(target)
            else:
                raise InputError(
                    config,
                    f"{key}: {entry!r} is neither a folder, a .txt list nor an image",
                    record=record,
                    hint="Point it at the folder of images or at a .txt list of image paths",
                )
        per_key[key] = paths
    _assign_splits(layout, per_key, ctx)
    return layout


def _names_images(entry: Any, bases: list[str]) -> bool:
    """True when a data.yaml value names an existing folder or .txt list (so its key is a split)."""
    if not isinstance(entry, str) or "://" in entry or "\n" in entry or not entry.strip():
        return False
    how = _resolve(entry, bases)
    if how is None:
        return False
    target = _apply(entry, how)
    return os.path.isdir(target) or target.lower().endswith(".txt")


def _yaml_names(doc: dict[str, Any], config: str, ctx: _Ctx) -> dict[int, str]:
    names, nc = doc.get("names"), doc.get("nc")
    if names is None and nc is None:
        raise InputError(
            config,
            "no class names: neither 'names' nor 'nc' is given",
            record="names",
            hint="Add names: [cat, dog] (or names: {0: cat, 1: dog}) to data.yaml",
        )
    if nc is not None and (isinstance(nc, bool) or not isinstance(nc, int) or nc < 0):
        raise InputError(
            config, f"nc must be a whole number >= 0, got {nc!r}", record="nc", hint="Write nc: <number of classes>"
        )
    if names is None:
        ctx.notes.append(f"data.yaml has nc: {nc} but no names: classes named class_0..class_{max(nc - 1, 0)}")
        return {i: f"class_{i}" for i in range(nc)}
    if isinstance(names, list):
        out = _parse_names_list(names, "data.yaml names", ctx)
    elif isinstance(names, dict):
        out = {}
        for key, value in names.items():
            try:
                index = int(key)
            except (TypeError, ValueError):
                index = -1
            if index < 0 or isinstance(key, bool | float):
                raise InputError(
                    config,
                    f"class index {key!r} is not a whole number >= 0",
                    record=f"names.{key}",
                    hint="Write names as {0: cat, 1: dog} or as a list [cat, dog]",
                )
            text = "" if value is None else str(value).strip()
            out[index] = text or f"class_{index}"
    else:
        raise InputError(
            config,
            f"names must be a list or a mapping, got {type(names).__name__} {names!r}"[:200],
            record="names",
            hint="Write names: [cat, dog] or names: {0: cat, 1: dog}",
        )
    if nc is not None and nc != len(out):
        ctx.fail(
            InputError(
                config,
                f"nc is {nc} but names has {len(out)} entries",
                record="nc",
                hint="Make nc equal the number of names (or remove nc)",
            ),
            "bad-config",
        )
    return out


def _list_file(list_path: str, bases: list[str], ctx: _Ctx, listing: _Listing) -> list[str]:
    """Absolute image paths listed one per line in a darknet/Ultralytics .txt list."""
    text = _read_text(list_path, what="image list")
    lines = [s for s in (line.strip() for line in text.split("\n")) if s and not s.startswith("#")]
    out: list[str] = []
    how: tuple[str, int] | None = None
    unresolved = 0
    for line in lines:
        if how is not None:
            candidate = _apply(line, how)
            if listing.exists(candidate):
                out.append(candidate)
                continue
        found = _resolve(line, bases, exists=listing.exists)
        if found is None:
            unresolved += 1
            out.append(_apply(line, how or (bases[0], 0)))
            continue
        how = found
        out.append(_apply(line, how))
    if unresolved:
        ctx.notes.append(
            f"{os.path.basename(list_path)}: {unresolved} listed images not found"
            " (kept without size; validate reports them)"
        )
    return out


def _split_from_path(rel: str) -> str | None:
    for part in rel.split("/")[:-1]:
        if part.lower() in SPLIT_ALIASES:
            return SPLIT_ALIASES[part.lower()]
    return None


def _assign_splits(layout: _Layout, per_key: dict[str, list[str]], ctx: _Ctx) -> None:
    """One split per image; an image listed under several keys is kept once.

    When every key lists the same images (a dataset without a held-out set, written as
    ``train: images`` and ``val: images``), the images get no split, unless their folders name one.
    """
    keys = list(per_key)
    same = len(keys) > 1 and all(set(per_key[k]) == set(per_key[keys[0]]) for k in keys[1:])
    chosen: dict[str, str | None] = {}
    shared = 0
    for key in keys:
        # "unassigned" is where writers put images without a split (base.image_layout)
        split = None if key == UNASSIGNED_SPLIT else SPLIT_ALIASES.get(key, key) if key != "minival" else key
        for p in per_key[key]:
            if p in chosen:
                shared += 1
                continue
            chosen[p] = None if same else split
    if same:
        for p, rel in zip(list(chosen), _relative(list(chosen), layout.root), strict=True):
            chosen[p] = _split_from_path(rel)
        named = sum(v is not None for v in chosen.values())
        ctx.notes.append(
            f"{' and '.join(keys)} list the same images: read "
            + (f"splits from folder names ({named} images)" if named else "without splits")
        )
    elif shared:
        ctx.notes.append(
            f"{shared} images listed under several splits: each kept once, in the first ({', '.join(keys)})"
        )
    layout.image_paths = list(chosen)
    layout.image_splits = list(chosen.values())


def _darknet_layout(config: str, ctx: _Ctx, listing: _Listing) -> _Layout:
    text = _read_text(config, what="obj.data file")
    cdir = os.path.dirname(config)
    bases = [cdir, os.path.dirname(cdir)]
    layout = _Layout("darknet", cdir, config=config)
    values: dict[str, tuple[str, int]] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise InputError(
                config,
                f"expected 'key = value', got {raw.strip()!r}",
                line=number,
                hint="Write e.g. train = data/train.txt",
            )
        values[key.strip().lower()] = (value.strip(), number)
    classes = None
    if "classes" in values:
        value, number = values["classes"]
        if not value.isdigit():
            raise InputError(
                config,
                f"classes must be a whole number, got {value!r}",
                line=number,
                hint="Write classes = <number of classes>",
            )
        classes = int(value)
    if "names" in values:
        value, number = values["names"]
        how = _resolve(value, bases)
        if how is None:
            raise InputError(
                config,
                f"names file {value!r} not found",
                line=number,
                hint="Fix the path of the class names file (one name per line), relative to obj.data",
            )
        names_path = _apply(value, how)
        layout.names = _names_file(names_path, ctx)
        layout.names_source = os.path.basename(names_path)
    elif classes is not None:
        layout.names = {i: f"class_{i}" for i in range(classes)}
        ctx.notes.append(f"obj.data has no names file: classes named class_0..class_{max(classes - 1, 0)}")
    else:
        raise InputError(
            config,
            "no class names: neither 'names' nor 'classes' is given",
            record="names",
            hint="Add names = data/obj.names",
        )
    if classes is not None and layout.names is not None and classes != len(layout.names):
        ctx.fail(
            InputError(
                config,
                f"classes is {classes} but the names file has {len(layout.names)} names",
                line=values["classes"][1],
                hint="Make classes equal the number of names",
            ),
            "bad-config",
        )
    per_key: dict[str, list[str]] = {}
    for key, (value, number) in values.items():
        if key in _DARKNET_RESERVED:
            continue
        split = _DARKNET_SPLIT_KEYS.get(key)
        how = _resolve(value, bases) if split or value.lower().endswith(".txt") else None
        if split is None and how is None:
            continue
        if how is None:
            ctx.fail(
                InputError(
                    config, f"{key} list {value!r} not found", line=number, hint="Fix the path of the image list"
                ),
                "missing-split",
            )
            continue
        per_key[split or key] = _list_file(_apply(value, how), bases, ctx, listing)
    if not per_key:
        raise InputError(
            config, "no image list (train = ..., valid = ...)", record="train", hint="Add train = data/train.txt"
        )
    _assign_splits(layout, per_key, ctx)
    return layout


def _loose_layout(root: str, ctx: _Ctx, listing: _Listing) -> _Layout:
    layout = _Layout("loose", root)
    top = listing.names(root)
    for name in _NAMES_FILES:
        if name in top:
            layout.names = _names_file(os.path.join(root, name), ctx)
            layout.names_source = name
            break
    else:
        other = sorted(n for n in top if n.lower().endswith(".names"))
        if other:
            layout.names = _names_file(os.path.join(root, other[0]), ctx)
            layout.names_source = other[0]
    layout.image_paths = _walk_images(root, listing)
    layout.image_splits = [_split_from_path(rel) for rel in _relative(layout.image_paths, root)]
    if any(s is not None for s in layout.image_splits):
        found = sorted({s for s in layout.image_splits if s is not None})
        ctx.notes.append(f"splits from folder names: {', '.join(found)}")
    return layout


def _label_dirs(image_dir: str) -> list[str]:
    """Folders that may hold the labels of images in `image_dir` (mirrors first, then itself)."""
    parts = image_dir.split(os.sep)
    out = []
    for img_name, lbl_name in _MIRRORS:
        if img_name in parts:
            i = len(parts) - 1 - parts[::-1].index(img_name)
            out.append(os.sep.join([*parts[:i], lbl_name, *parts[i + 1 :]]))
    out.append(image_dir)
    return out


def _image_dir_of(label_dir: str) -> str:
    """The image folder a label folder mirrors (inverse of `_label_dirs`), or itself."""
    parts = label_dir.split(os.sep)
    for img_name, lbl_name in _MIRRORS:
        if lbl_name in parts:
            i = len(parts) - 1 - parts[::-1].index(lbl_name)
            return os.sep.join([*parts[:i], img_name, *parts[i + 1 :]])
    return label_dir


def _match_labels(
    image_paths: list[str], listing: _Listing
) -> tuple[list[str | None], dict[str, str], dict[str, set[str]]]:
    """The label file of each image (or None), the label folders in use -> their image folder,
    and the label file names each of those folders gave."""
    labels: list[str | None] = []
    cands_by_dir: dict[str, list[tuple[str, frozenset[str], set[str]]]] = {}
    scan: dict[str, str] = {}
    used: dict[str, set[str]] = {}
    for p in image_paths:
        folder, _, name = p.rpartition(os.sep)
        cands = cands_by_dir.get(folder)
        if cands is None:
            mirrors = [d for d in _label_dirs(folder)[:-1] if listing.names(d)]
            for d in mirrors:
                scan.setdefault(d, folder)
            cands = cands_by_dir[folder] = [
                (d, listing.names(d), used.setdefault(d, set())) for d in [*mirrors, folder]
            ]
        label_name = name.rsplit(".", 1)[0] + ".txt"
        for d, names, taken in cands:
            if label_name in names:
                labels.append(d + os.sep + label_name)
                taken.add(label_name)
                scan.setdefault(d, folder)
                break
        else:
            labels.append(None)
    return labels, scan, used


def _orphan_labels(
    scan: dict[str, str], used: dict[str, set[str]], listing: _Listing, skip: set[str]
) -> tuple[list[str], int]:
    """Label files whose image does not exist, and the count of labels of unlisted images."""
    orphans: list[str] = []
    unlisted = 0
    for label_dir, image_dir in scan.items():
        txt = {n for n in listing.names(label_dir) if n[-4:].lower() == ".txt" and n.lower() not in _NOT_LABELS}
        txt -= used.get(label_dir, set())
        txt = {n for n in txt if label_dir + os.sep + n not in skip}
        if not txt:
            continue
        stems = {n.rsplit(".", 1)[0] for n in listing.names(image_dir) if _is_image(n)}
        for name in sorted(txt):
            if name[:-4] in stems:
                unlisted += 1
            elif os.path.isfile(label_dir + os.sep + name):
                orphans.append(label_dir + os.sep + name)
    return orphans, unlisted


# ---------------------------------------------------------------------------------------------
# read: image headers


_SOF = frozenset((0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF))
_XMP_ORIENTATION = re.compile(rb'tiff:Orientation(="|>)([0-9])')


def _exif_orientation(tiff: bytes) -> int | None:
    """Orientation tag (0x0112) of EXIF IFD0, or None."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return None
    e = "<" if tiff[:2] == b"II" else ">"
    (ifd,) = struct.unpack_from(e + "I", tiff, 4)
    if ifd + 2 > len(tiff):
        return None
    (count,) = struct.unpack_from(e + "H", tiff, ifd)
    for i in range(count):
        off = ifd + 2 + 12 * i
        if off + 12 > len(tiff):
            return None
        tag, kind = struct.unpack_from(e + "HH", tiff, off)
        if tag == 0x0112:
            return struct.unpack_from(e + "H", tiff, off + 8)[0] if kind == 3 else None
    return None


_O_READ = os.O_RDONLY | getattr(os, "O_BINARY", 0)


def _read_all(path: str) -> bytes:
    """A whole file through os.open/os.read: half the cost of open().read() for small files."""
    fd = os.open(path, _O_READ)
    try:
        data = os.read(fd, 1 << 16)
        if len(data) == 1 << 16:  # a short read of a regular file is its end
            parts = [data]
            while chunk := os.read(fd, 1 << 20):
                parts.append(chunk)
            data = b"".join(parts)
        return data
    finally:
        os.close(fd)


class _Head:
    """A file's first 8 KiB in memory (one read); reads past it go to the file."""

    SIZE = 1 << 13

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.head = os.read(fd, self.SIZE)

    def at(self, offset: int, n: int) -> bytes:
        if offset + n <= len(self.head) or len(self.head) < self.SIZE:
            return self.head[offset : offset + n]
        os.lseek(self.fd, offset, os.SEEK_SET)
        return os.read(self.fd, n)


def _jpeg_header(data: _Head) -> tuple[int, int, int] | None:
    """``(stored width, stored height, orientation)`` from JPEG markers, or None if unusual.

    Walks the markers up to the start of scan, as Pillow does, so a file cut short before its
    image data is left to Pillow to report.
    """
    orientation: int | None = None
    xmp: bytes | None = None
    size: tuple[int, int] | None = None
    pos = 2
    while True:
        marker = data.at(pos, 4)
        if len(marker) < 4 or marker[0] != 0xFF or marker[1] == 0xFF:
            return None
        kind, length = marker[1], (marker[2] << 8) | marker[3]
        if kind == 0xDA and size is not None:
            if orientation is None and xmp is not None:  # Pillow's fallback: XMP tiff:Orientation
                m = _XMP_ORIENTATION.search(xmp)
                orientation = int(m[2]) if m else None
            return size[0], size[1], orientation or 1
        if kind in (0xDA, 0xD9) or length < 2:
            return None
        if kind in _SOF and size is None:
            seg = data.at(pos + 4, 5)
            if len(seg) < 5:
                return None
            size = (seg[3] << 8) | seg[4], (seg[1] << 8) | seg[2]
        elif kind == 0xE1:
            seg = data.at(pos + 4, length - 2)
            if seg[:6] == b"Exif\x00\x00" and orientation is None:
                orientation = _exif_orientation(seg[6:])
            elif seg.startswith(b"http://ns.adobe.com/xap/1.0/\x00") and xmp is None:
                xmp = seg
        pos += 2 + length


def _png_header(data: _Head) -> tuple[int, int, int] | None:
    """``(width, height, orientation)`` from the IHDR and eXIf chunks, or None if unusual."""
    head = data.at(8, 8 + 13 + 4)
    if len(head) < 25 or head[4:8] != b"IHDR" or zlib.crc32(head[4:21]) != struct.unpack(">I", head[21:25])[0]:
        return None  # Pillow checks the CRC too: let it report the damage
    width, height = struct.unpack(">II", head[8:16])
    orientation = 1
    pos = 8 + 8 + 13 + 4
    while True:
        chunk = data.at(pos, 8)
        if len(chunk) < 8:
            return None
        length, kind = struct.unpack(">I4s", chunk)
        if kind == b"IEND":
            return width, height, orientation
        if kind == b"eXIf":
            chunk_data = data.at(pos + 4, length + 8)
            if len(chunk_data) < length + 8 or zlib.crc32(chunk_data[:-4]) != struct.unpack(">I", chunk_data[-4:])[0]:
                return None
            orientation = _exif_orientation(chunk_data[4:-4]) or 1
        elif kind in (b"tEXt", b"zTXt", b"iTXt"):
            key = data.at(pos + 8, min(length, 80)).split(b"\x00", 1)[0]
            if key in (b"Raw profile type exif", b"XML:com.adobe.xmp"):
                return None  # orientation hidden in text: let Pillow read it
        pos += 12 + length


def _image_size(path: str) -> tuple[int, int, bool]:
    """``(width, height, rotated)`` as displayed (EXIF orientation applied), from the header.

    JPEG and PNG headers are parsed here (about 3x faster than Pillow, which also decodes a PNG
    whole to look for EXIF); anything else, or anything unusual, goes to `files.probe_image`.

    Raises:
        InputError: the file is missing or not an image.
    """
    found = None
    try:
        fd = os.open(path, _O_READ)
        try:
            data = _Head(fd)
            if data.head[:2] == b"\xff\xd8":
                found = _jpeg_header(data)
            elif data.head[:8] == b"\x89PNG\r\n\x1a\n":
                found = _png_header(data)
        finally:
            os.close(fd)
    except FileNotFoundError:
        raise InputError(path, "image file not found", hint="Check the file name in the labels") from None
    except (OSError, struct.error):
        found = None
    if found is None or not 1 <= found[2] <= 8 or found[0] <= 0 or found[1] <= 0:
        from PIL import Image

        try:
            header = probe_image(path)
        except Image.DecompressionBombError as err:  # Pillow refuses to open it at all
            raise InputError(path, f"not a readable image ({err})", hint="Re-export or remove the file") from None
        return header.width, header.height, header.rotated
    width, height, orientation = found
    if orientation >= 5:
        return height, width, True
    return width, height, False


# ---------------------------------------------------------------------------------------------
# read: parsing label rows (vectorized over all files at once)


_WHITESPACE = np.zeros(256, dtype=bool)
_WHITESPACE[[9, 10, 11, 12, 13, 32]] = True  # what bytes.split() splits on


@dataclass
class _Rows:
    """Parsed label rows: row r has ``arity[r]`` numbers at ``values[start[r]:start[r] + arity[r]]``."""

    file: npt.NDArray[np.int64]  # index into the label files
    line: npt.NDArray[np.int64]  # 1-based line in its file
    arity: npt.NDArray[np.int64]
    start: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]

    @classmethod
    def empty(cls) -> _Rows:
        none = np.zeros(0, dtype=np.int64)
        return cls(none, none, none, none, np.zeros(0))


def _load_label_file(path: str) -> bytes:
    """A label file's bytes, normalized to ``\\n`` line ends and a final newline.

    Raises:
        InputError: unreadable, binary or non-ASCII content (naming the line).
    """
    try:
        data = _read_all(path)
    except OSError as err:
        raise InputError(path, f"cannot read the label file: {err.strerror or err}", hint="Check permissions") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.isascii() or b"\x00" in data:
        bad = next(i for i, c in enumerate(data) if c > 127 or c == 0)
        line = data[:bad].count(b"\n") + 1
        raise InputError(
            path,
            f"binary or non-text data in a label file (byte 0x{data[bad]:02x})",
            line=line,
            hint="Label files hold numbers only; replace or delete the file",
        )
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if data and not data.endswith(b"\n"):
        data += b"\n"
    return data


def _parse_rows(contents: list[bytes], paths: list[str], ctx: _Ctx, *, block_bytes: int = 1 << 21) -> _Rows:
    """Parse every row of every label file, a few MiB of files per vectorized pass (the token
    list of one pass is ~10x its text); bad rows raise or become findings."""
    blocks: list[_Rows] = []
    values_done = 0
    first = 0
    while first < len(contents):
        last, size = first, 0
        while last < len(contents) and (size < block_bytes or last == first):
            size += len(contents[last])
            last += 1
        rows = _parse_block(contents[first:last], paths[first:last], ctx)
        blocks.append(_Rows(rows.file + first, rows.line, rows.arity, rows.start + values_done, rows.values))
        values_done += len(rows.values)
        first = last
    if len(blocks) == 1:
        return blocks[0]
    return _Rows(
        *(np.concatenate([getattr(b, f) for b in blocks]) for f in ("file", "line", "arity", "start", "values"))
    )


def _parse_block(contents: list[bytes], paths: list[str], ctx: _Ctx) -> _Rows:
    """Parse the rows of some label files in one pass (see `_parse_rows`)."""
    buf = b"".join(contents)
    arr = np.frombuffer(buf, dtype=np.uint8)
    newlines = np.flatnonzero(arr == 10)
    ws = _WHITESPACE[arr]
    starts = np.flatnonzero(~ws & np.concatenate(([True], ws[:-1])))
    del ws
    token_line = np.searchsorted(newlines, starts)
    per_line = np.bincount(token_line, minlength=len(newlines))
    row_lines = np.flatnonzero(per_line)
    arity = per_line[row_lines].astype(np.int64)
    start = np.zeros(len(row_lines), dtype=np.int64)
    np.cumsum(arity[:-1], out=start[1:])
    file_first_line = np.zeros(len(contents), dtype=np.int64)
    np.cumsum([c.count(b"\n") for c in contents[:-1]], out=file_first_line[1:])
    row_file = np.searchsorted(file_first_line, row_lines, side="right") - 1
    row_line = row_lines - file_first_line[row_file] + 1
    tokens = buf.split()
    bad_rows: dict[int, str] = {}
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        values = np.full(len(tokens), np.nan)
        token_row = np.searchsorted(start, np.arange(len(tokens)), side="right") - 1
        for i, tok in enumerate(tokens):
            try:
                values[i] = float(tok)
            except ValueError:
                r = int(token_row[i])
                what = "numbers are separated by spaces, not commas" if b"," in tok else "is not a number"
                bad_rows.setdefault(
                    r,
                    f'"{tok.decode("ascii", "replace")}": {what}'
                    if b"," in tok
                    else f'"{tok.decode("ascii", "replace")}" {what}',
                )
    # Arity: 5 box, 6 box + conf, odd >= 7 polygon, even >= 8 polygon + conf (pose: 5 + keypoints).
    short = np.flatnonzero(arity < 5)
    for r in short.tolist():
        bad_rows.setdefault(r, f"expected 5 numbers (class cx cy w h), got {int(arity[r])}")
    cls = values[start]
    with np.errstate(invalid="ignore"):
        bad_cls = ~np.isfinite(cls) | (cls < 0) | (cls != np.floor(cls)) | (cls > 2**31)
    for r in np.flatnonzero(bad_cls).tolist():
        tok = tokens[int(start[r])].decode("ascii", "replace")
        bad_rows.setdefault(r, f'class index must be a whole number >= 0, got "{tok}"')
    if bad_rows:
        order = sorted(bad_rows, key=lambda r: (int(row_file[r]), int(row_line[r])))
        for r in order:
            line_no = int(row_lines[r])
            lo = int(newlines[line_no - 1]) + 1 if line_no else 0
            text = buf[lo : int(newlines[line_no])].decode("ascii", "replace").strip()
            text = text if len(text) <= 80 else text[:77] + "..."
            ctx.fail(
                InputError(
                    paths[int(row_file[r])],
                    f'{bad_rows[r]}: "{text}"',
                    line=int(row_line[r]),
                    hint=_LINE_HINT,
                ),
                "bad-label-line",
            )
        keep = np.ones(len(row_lines), dtype=bool)
        keep[list(bad_rows)] = False
        row_file, row_line, arity, start = row_file[keep], row_line[keep], arity[keep], start[keep]
    return _Rows(row_file.astype(np.int64), row_line.astype(np.int64), arity, start, values)


def _rows_to_annotations(
    rows: _Rows,
    image_index: npt.NDArray[np.int64],
    width: npt.NDArray[np.float64],
    height: npt.NDArray[np.float64],
    *,
    keypoints: int = 0,
) -> dict[str, Any]:
    """Annotation columns (absolute xyxy, polygons, scores) from parsed rows.

    `image_index` maps a label file to its image's position; `width`/`height` are per image.
    """
    n = len(rows.arity)
    img = image_index[rows.file]
    w, h = width[img], height[img]
    values, start, arity = rows.values, rows.start, rows.arity
    xyxy = np.full((n, 4), np.nan)
    score = np.full(n, np.nan)
    segmentation = np.full(n, None, dtype=object)
    # 5: box; 6: box + conf; pose (kpt_shape): 5 + K or 6 + K, keypoints not kept; else polygons.
    box_arity = (5, 6, 5 + keypoints, 6 + keypoints) if keypoints else (5, 6)
    is_box = np.isin(arity, box_arity)
    if is_box.any():
        rb = np.flatnonzero(is_box)
        cxcywh = values[start[rb, None] + np.arange(1, 5)]
        xyxy[rb] = cxcywh_norm_to_xyxy(cxcywh, w[rb], h[rb])
        conf = rb[np.isin(arity[rb], box_arity[1::2])]
        score[conf] = values[start[conf] + arity[conf] - 1]
    for a in np.unique(arity[~is_box]).tolist():
        rp = np.flatnonzero((arity == a) & ~is_box)
        k = (a - 1) // 2
        pts = values[start[rp, None] + np.arange(1, 1 + 2 * k)].reshape(-1, k, 2)
        pts = pts * np.stack([w[rp], h[rp]], axis=1)[:, None, :]
        xyxy[rp, :2] = pts.min(axis=1)
        xyxy[rp, 2:] = pts.max(axis=1)
        if a % 2 == 0:
            score[rp] = values[start[rp] + a - 1]
        for r, poly in zip(rp.tolist(), pts, strict=True):
            segmentation[r] = [poly]
    return {
        "image_pos": img,
        "class_index": values[start].astype(np.int64),
        "x_min": xyxy[:, 0],
        "y_min": xyxy[:, 1],
        "x_max": xyxy[:, 2],
        "y_max": xyxy[:, 3],
        "segmentation": segmentation,
        "score": score,
    }


def read(path: Path, *, on_error: str = "raise", provenance: bool = False, **options: Any) -> ReadResult:
    """Read a YOLO dataset (folder, data.yaml or obj.data) into a Dataset.

    Image ids are 1..N in sorted ``file_name`` order; annotation ids 1..M in file and line
    order; ``category_id`` is the class index + 1. Boxes are absolute continuous xyxy pixels
    (normalized cxcywh times the displayed image size); polygons become ``(K, 2)`` absolute
    arrays with their bounds as the box; a 6th column (or a last one after a polygon) is the score.

    Raises:
        InputError: a config is missing its names or splits, a label line is malformed (with
            file and line), a label file is binary, or a label file has no image
            (``on_error="collect"`` turns per-file and per-line problems into findings).
        UsageError: an unknown option.
    """
    if options:
        raise UsageError(f"unknown yolo read option(s): {', '.join(sorted(options))}")
    if on_error not in ("raise", "collect"):
        raise UsageError(f"on_error must be 'raise' or 'collect', not {on_error!r}")
    ctx = _Ctx(on_error)
    listing = _Listing()
    kind, config, root = _locate(Path(path), ctx)
    if kind == "ultralytics":
        layout = _yaml_layout(config, ctx, listing)  # type: ignore[arg-type]
    elif kind == "darknet":
        layout = _darknet_layout(config, ctx, listing)  # type: ignore[arg-type]
    else:
        layout = _loose_layout(root, ctx, listing)
    ctx.notes.insert(0, f"layout: {layout.kind}" + (f" ({os.path.basename(config)})" if config else ""))

    image_paths = layout.image_paths
    root_dir = layout.root
    if image_paths:
        common = os.path.commonpath([root_dir, *{p.rpartition(os.sep)[0] or os.sep for p in image_paths}])
        if common != root_dir:
            ctx.notes.append(f"images lie outside {root_dir}: file names are relative to {common}")
            root_dir = common
    labels, scan, used = _match_labels(image_paths, listing)
    # split folders the config names but that hold no image: their label folders still get
    # looked at, so orphan labels there are reported rather than silently skipped
    for image_dir in listing.walked:
        for label_dir in _label_dirs(image_dir)[:-1]:
            if label_dir not in scan and listing.names(label_dir):
                scan[label_dir] = image_dir
    if layout.kind == "loose":  # label folders without any image folder beside them
        for folder in listing.folders():
            if folder not in scan and any(lbl in folder.split(os.sep) for _, lbl in _MIRRORS):
                scan[folder] = _image_dir_of(folder)
    skip = {config} if config else set()
    if layout.names_source:
        skip.add(os.path.join(root, layout.names_source))
    orphans, unlisted = _orphan_labels(scan, used, listing, skip)
    if unlisted:
        ctx.notes.append(f"{unlisted} label files belong to images that no split lists: not read")
    if layout.kind == "loose" and not image_paths and not orphans:
        raise InputError(
            root, "no images found", hint="A YOLO dataset needs its images to turn normalized labels into pixels"
        )
    for p in orphans:
        ctx.fail(
            InputError(p, "label file without an image: its boxes cannot be turned into pixels", hint=_ORPHAN_HINT),
            "label-without-image",
        )

    n = len(image_paths)
    rel = _relative(image_paths, root_dir)
    order = sorted(range(n), key=rel.__getitem__)
    rel = [rel[i] for i in order]
    image_paths = [image_paths[i] for i in order]
    splits = [layout.image_splits[i] for i in order]
    labels = [labels[i] for i in order]

    width = np.full(n, np.nan)
    height = np.full(n, np.nan)
    rotated = missing = unreadable = 0
    for i, p in enumerate(image_paths):
        if not listing.exists(p):
            missing += 1
            if labels[i] is not None:
                ctx.fail(
                    InputError(
                        labels[i],
                        f"label file without an image ({rel[i]} not found): its boxes cannot be turned into pixels",
                        hint=_ORPHAN_HINT,
                    ),
                    "label-without-image",
                )
                labels[i] = None
            continue
        try:
            w, h, rot = _image_size(p)
        except InputError as err:
            unreadable += 1
            if labels[i] is not None:
                ctx.fail(err, "image-unreadable")
                labels[i] = None
            continue
        width[i], height[i] = w, h
        rotated += rot
    if rotated:
        ctx.notes.append(f"{rotated} images have an EXIF rotation: sizes are as displayed (width and height swapped)")
    if missing:
        ctx.notes.append(f"{missing} listed images not found on disk: kept without size")
    if unreadable:
        ctx.notes.append(f"{unreadable} images could not be read: kept without size")
    no_label = sum(1 for i in range(n) if labels[i] is None and not np.isnan(width[i]))
    if no_label:
        ctx.notes.append(f"{no_label} images have no label file: read as images without objects")

    label_files: list[str] = []
    label_image: list[int] = []
    contents: list[bytes] = []
    for i, p in enumerate(labels):
        if p is None:
            continue
        try:
            data = _load_label_file(p)
        except InputError as err:
            ctx.fail(err, "unreadable-label")
            continue
        label_files.append(p)
        label_image.append(i)
        contents.append(data)
    rows = _parse_rows(contents, label_files, ctx) if contents else _Rows.empty()
    del contents
    image_index = np.asarray(label_image, dtype=np.int64)
    cols = _rows_to_annotations(rows, image_index, width, height, keypoints=layout.keypoints)

    names = dict(layout.names or {})
    used_classes = np.unique(cols["class_index"]).tolist()
    beyond = [c for c in used_classes if c not in names]
    if beyond:
        if layout.names is None:
            ctx.notes.append("no class names file (obj.names, classes.txt): classes named class_<index>")
            names = {i: f"class_{i}" for i in range(max(beyond) + 1)}
        else:
            src = layout.names_source or "the names"
            ctx.notes.append(
                f"class indices {_short(beyond)} are beyond the {len(names)} names in {src}: named class_<index>"
            )
            taken = set(names.values())
            for c in beyond:
                name = f"class_{c}"
                while name in taken:
                    name += "_"
                names[c] = name
                taken.add(name)
    names = _unique_names(names, ctx)

    image_ids = np.arange(1, n + 1, dtype=np.int64)
    images = pd.DataFrame(
        {
            "image_id": image_ids,
            "file_name": pd.array(rel, dtype=object),
            "width": pd.array(np.where(np.isnan(width), None, width).tolist(), dtype="Int64"),
            "height": pd.array(np.where(np.isnan(height), None, height).tolist(), dtype="Int64"),
            "split": pd.array([np.nan if s is None else s for s in splits], dtype=object),
        }
    )
    m = len(cols["class_index"])
    annotations = {
        "annotation_id": np.arange(1, m + 1, dtype=np.int64),
        "image_id": image_ids[cols["image_pos"]],
        "category_id": cols["class_index"] + 1,
        "x_min": cols["x_min"],
        "y_min": cols["y_min"],
        "x_max": cols["x_max"],
        "y_max": cols["y_max"],
        "segmentation": cols["segmentation"],
        "score": cols["score"],
    }
    cat_ids = sorted(names)
    categories = {"category_id": np.asarray(cat_ids, dtype=np.int64) + 1, "name": [names[c] for c in cat_ids]}
    ds = Dataset.from_frames(images, annotations, categories, root=Path(root_dir))
    result = ReadResult(ds, "yolo", ctx.findings, ctx.notes)
    if provenance:
        # Label files are named even for images without one: where it would be.
        expected = [
            lbl or os.path.join(_label_dirs(os.path.dirname(img))[0], os.path.basename(img).rsplit(".", 1)[0] + ".txt")
            for img, lbl in zip(image_paths, labels, strict=True)
        ]
        result.image_sources = pd.DataFrame(
            {"file": pd.array(_relative(expected, root_dir), dtype=object)}, index=pd.Index(image_ids, name="image_id")
        )
        label_rel = np.asarray(_relative(label_files, root_dir), dtype=object)
        result.annotation_sources = pd.DataFrame(
            {
                "file": label_rel[rows.file] if len(label_rel) else np.zeros(0, dtype=object),
                "line": pd.array(rows.line, dtype="Int64"),
                "record": pd.array([np.nan] * m, dtype=object),
            },
            index=pd.Index(annotations["annotation_id"], name="annotation_id"),
        )
    return result


# ---------------------------------------------------------------------------------------------
# write


def _check_write_options(layout: str, task: str, scores: bool) -> None:
    if layout not in LAYOUTS:
        raise UsageError(f"unknown yolo layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if task not in TASKS:
        raise UsageError(f"unknown yolo task {task!r}; choose one of {', '.join(TASKS)}")
    if not isinstance(scores, bool):
        raise UsageError(f"scores must be true or false, not {scores!r}")


def _capabilities(task: str, scores: bool) -> Capabilities:
    return Capabilities(polygons=task == "segment", scores=scores, splits=True)


def _examples(ids: Iterable[Any]) -> list[int]:
    return [int(i) for i in list(ids)[:MAX_EXAMPLES]]


def plan(ds: Dataset, *, layout: str = "ultralytics", task: str = "detect", scores: bool = False) -> list[Loss]:
    """What writing `ds` as YOLO (with these options) would drop or change.

    The generic plan for the task's capabilities (polygons only with ``task="segment"``, scores
    only with ``scores=True``), plus: category ids that are not 1..C (read back renumbered),
    annotations whose category or image is unknown, multi-part polygons joined into one
    outline, images renamed so two images never share a label file, and darknet class names
    that obj.names cannot hold.

    Raises:
        UsageError: unknown layout or task.
    """
    _check_write_options(layout, task, scores)
    losses = plan_losses(ds, _capabilities(task, scores), format_name=f"YOLO ({task})")
    anns = ds.annotations
    cat_ids = ds.categories.index.to_numpy()
    renumbered = cat_ids[cat_ids != np.arange(1, len(cat_ids) + 1)]
    if len(renumbered):
        losses.append(
            Loss(
                "category-renumbered",
                "YOLO class indices are positions: category ids not 1..C read back as 1..C in id order",
                len(renumbered),
                _examples(renumbered),
                unit="category",
            )
        )
    has_box = anns["x_min"].notna().to_numpy()
    unknown_cat = has_box & ~anns["category_id"].isin(ds.categories.index).to_numpy()
    if unknown_cat.any():
        losses.append(
            Loss(
                "unknown-category",
                "annotations whose category_id is not in the categories table: not written",
                int(unknown_cat.sum()),
                _examples(anns.index[unknown_cat]),
            )
        )
    unknown_img = has_box & ~anns["image_id"].isin(ds.images.index).to_numpy()
    if unknown_img.any():
        losses.append(
            Loss(
                "unknown-image",
                "annotations whose image_id is not in the images table: not written",
                int(unknown_img.sum()),
                _examples(anns.index[unknown_img]),
            )
        )
    partial = has_box & anns[["y_min", "x_max", "y_max"]].isna().any(axis=1).to_numpy()
    if partial.any():
        losses.append(
            Loss(
                "incomplete-box",
                "boxes with a NaN coordinate: not written",
                int(partial.sum()),
                _examples(anns.index[partial]),
            )
        )
    if task == "segment":
        seg = anns["segmentation"]
        polys = seg[seg.map(lambda s: isinstance(s, list), na_action="ignore").fillna(False).astype(bool)]
        multi = polys[polys.map(len) > 1]
        if len(multi):
            losses.append(
                Loss(
                    "polygon-parts-joined",
                    "YOLO holds one outline per object: multi-part polygons joined by zero-width bridges"
                    " (as Ultralytics' COCO converter does)",
                    len(multi),
                    _examples(multi.index),
                )
            )
        tiny = polys[polys.map(lambda parts: sum(len(p) for p in parts) < 3)]
        if len(tiny):
            losses.append(
                Loss(
                    "polygon-degenerate",
                    "polygons with fewer than 3 points: written as their box",
                    len(tiny),
                    _examples(tiny.index),
                )
            )
    renamed = _placement(ds, layout)[2]
    if renamed:
        losses.append(
            Loss(
                "image-renamed",
                "images that would share a label file (a.jpg and a.png in one folder): later ones renamed "
                "<stem>_<image_id>.<suffix>",
                len(renamed),
                _examples(renamed),
                unit="image",
            )
        )
    if layout == "darknet":
        names = ds.categories["name"].astype(str)
        bad = names[(names != names.str.strip()) | names.str.contains(r"[\r\n]") | (names == "")]
        if len(bad):
            losses.append(
                Loss(
                    "category-renamed",
                    "obj.names holds one trimmed name per line: names with line breaks or outer spaces changed",
                    len(bad),
                    _examples(bad.index),
                    unit="category",
                )
            )
    unassigned = ds.images.index[ds.images["split"].isna().to_numpy()] if ds.splits else []
    if len(unassigned):
        losses.append(
            Loss(
                "split-unassigned",
                f"images without a split go to a split folder of their own, '{UNASSIGNED_SPLIT}' (read back without"
                " a split; Ultralytics and darknet train on train/val only)",
                len(unassigned),
                _examples(unassigned),
                unit="image",
            )
        )
    if ds.splits and layout == "ultralytics" and not {"train", "val"} <= set(ds.splits):
        present = [s for s in ("train", "val") if s in ds.splits]
        losses.append(
            Loss(
                "split-filled",
                "Ultralytics needs both train and val: "
                + (
                    f"the missing one points at the {present[0]} images" if present else "both point at the first split"
                ),
                1,
                unit="dataset",
            )
        )
    return losses


_UNSAFE_MEMBER = re.compile(r"^/|\\|//|(?:^|/)\.{1,2}(?:/|$)|^[^/]:|^$")
# Substrings of "\n" + names joined by "\n" + "\n" that only unsafe or unclean names contain.
_UNCLEAN_PARTS = ("\\", "//", "\n/", "/./", "/../", "\n./", "\n../", "/.\n", "/..\n", "\n.\n", "\n..\n", "\n\n")


def _member_paths(names: list[str], root: Path) -> list[str]:
    """`names` as safe relative paths, refusing ``../`` and absolute names (`OutputError`).

    Every name `files.safe_join` would change or refuse goes through it; the rest are clean
    already. Substring tests over all names joined (a few ms for 50k) instead of 50k calls.
    """
    joined = "\n" + "\n".join(names) + "\n"
    clean = (
        joined.count("\n") == len(names) + 1
        and not any(part in joined for part in _UNCLEAN_PARTS)
        and (":" not in joined or re.search(r"\n[^/\n]:", joined) is None)
    )
    if clean or not names:
        return names
    return [
        safe_join(root, name).relative_to(root).as_posix() if _UNSAFE_MEMBER.search(name) or "\n" in name else name
        for name in names
    ]


# The last placement computed: `formats.write` plans (which needs the renamed images) and then
# writes the same dataset, and placing 50k images costs ~0.2 s. Keyed by the images frame
# itself (held here, so its id cannot be reused) and the layout.
_LAST_PLACEMENT: list[Any] = []


def _placement(ds: Dataset, layout: str) -> tuple[pd.DataFrame, pd.Series, list[int]]:
    """Output image paths, label paths (relative to the output) and the renamed image ids."""
    if _LAST_PLACEMENT and _LAST_PLACEMENT[0] is ds.images and _LAST_PLACEMENT[1] == layout:
        return _LAST_PLACEMENT[2]
    result = _place(ds, layout)
    _LAST_PLACEMENT[:] = [ds.images, layout, result]
    return result


def _place(ds: Dataset, layout: str) -> tuple[pd.DataFrame, pd.Series, list[int]]:
    """`_placement` uncached: split folders from `image_layout`, then label paths made unique.

    Plain lists rather than pandas string methods: this runs on every image of the benchmark.
    """
    lay = image_layout(ds)
    splits: list[str] = lay["split"].tolist()
    names: list[str] = lay["name"].tolist()
    if layout == "ultralytics":
        img_dir = [f"images/{s}" if s else "images" for s in splits]
        lbl_dir = [f"labels/{s}" if s else "labels" for s in splits]
    else:
        img_dir = lbl_dir = [f"obj_{s or 'train'}_data" for s in splits]
    stems = [_strip_suffix(n) for n in names]
    labels = [f"{d}/{st}.txt" for d, st in zip(lbl_dir, stems, strict=True)]
    renamed: list[int] = []
    if len(set(labels)) != len(labels):
        taken = set(labels) | {f"{d}/{n}" for d, n in zip(img_dir, names, strict=True)}
        seen: set[str] = set()
        ids = lay.index.tolist()
        for i, label in enumerate(labels):
            if label not in seen:
                seen.add(label)
                continue
            suffix = names[i][len(stems[i]) :]
            k = 0
            while True:
                new_stem = f"{stems[i]}_{ids[i]}" + (f"_{k}" if k else "")
                new_label = f"{lbl_dir[i]}/{new_stem}.txt"
                new_image = f"{img_dir[i]}/{new_stem}{suffix}"
                if new_label not in taken and new_image not in taken:
                    break
                k += 1
            taken.update((new_label, new_image))
            names[i] = new_stem + suffix
            labels[i] = new_label
            renamed.append(int(ids[i]))
    images = [f"{d}/{n}" for d, n in zip(img_dir, names, strict=True)]
    frame = pd.DataFrame({"split": splits, "image": images, "label": labels}, index=lay.index, dtype=object)
    return frame, frame["label"], renamed


def _strip_suffix(name: str) -> str:
    """``a/b.c.jpg`` -> ``a/b.c``: drop the last suffix of the last path component."""
    base = name.rpartition("/")[2]
    dot = base.rfind(".")
    return name if dot < 0 else name[: len(name) - len(base) + dot]


def _join_parts(parts: list[npt.NDArray[np.float64]]) -> npt.NDArray[np.float64]:
    """One outline from several polygon parts, joined at their closest points.

    The outline walks each part from where it is entered to where the next part is closest,
    goes round the last part whole, then walks back through the rest of each part, so every
    bridge is traversed twice (zero width) and the filled area is the union of the parts.
    """
    parts = [np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in parts if len(p)]
    if len(parts) == 1:
        return parts[0]
    links = []
    for a, b in itertools.pairwise(parts):
        d = ((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)
        i, j = np.unravel_index(np.argmin(d), d.shape)
        links.append((int(i), int(j)))
    entry = [links[0][0], *[j for _, j in links]]  # where each part is entered
    exit_ = [i for i, _ in links]  # where each part (but the last) is left
    forward, backward = [], []
    for k, p in enumerate(parts):
        rolled = np.roll(p, -entry[k], axis=0)  # starts at the entry point
        if k == len(parts) - 1:
            forward.append(np.concatenate([rolled, rolled[:1]]))
            continue
        cut = (exit_[k] - entry[k]) % len(p)
        forward.append(rolled[: cut + 1])
        backward.append(np.concatenate([rolled[cut:], rolled[:1]]))
    return np.concatenate(forward + backward[::-1])


def _fixed6(values: npt.NDArray[np.float64]) -> npt.NDArray[np.int64] | None:
    """``values`` times 10**6 rounded exactly as ``'%.6f'`` rounds, or None when out of range.

    ``np.rint(x * 1e6)`` agrees with the correctly rounded decimal except when ``x * 1e6`` lies
    within float error of a half: those few values are rounded by Python's formatter itself.
    """
    if values.size == 0:
        return np.zeros(values.shape, dtype=np.int64)
    if not np.isfinite(values).all() or np.abs(values).max() >= 1e9:
        return None
    scaled = values * 1e6
    q = np.rint(scaled)
    risky = np.abs(scaled - np.floor(scaled) - 0.5) <= np.maximum(np.abs(scaled), 1.0) * 1e-12
    q = q.astype(np.int64)
    if risky.any():
        for idx in zip(*np.nonzero(risky), strict=True):
            text = f"{abs(values[idx]):.6f}"
            q[idx] = int(text.replace(".", "")) * (-1 if values[idx] < 0 else 1)
    return q


_POW10 = 10 ** np.arange(19, dtype=np.int64)
# "000".."999" as 3-byte records: one `take` per three digits.
_TRIPLES = np.array([list(f"{i:03d}".encode()) for i in range(1000)], dtype=np.uint8).view("V3").ravel()


def _digit_count(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Number of decimal digits of non-negative ints (0 has 1)."""
    return np.maximum(np.searchsorted(_POW10, values, side="right"), 1)


def _digits(values: npt.NDArray[np.int64], width: int) -> npt.NDArray[np.uint8]:
    """``(..., width)`` ASCII digits of non-negative ints, right-aligned, zero-padded.

    Three digits per table lookup (a third of the divisions, and byte-record gathers).
    """
    groups = -(-width // 3)
    rest = values.astype(np.int32) if values.size and values.max() < 2**31 else values
    out = np.empty((*values.shape, groups), dtype="V3")
    for g in range(groups - 1, -1, -1):
        high = rest // 1000
        out[..., g] = _TRIPLES.take(rest - high * 1000)
        rest = high
    return out.view(np.uint8).reshape(*values.shape, groups * 3)[..., groups * 3 - width :]


def _format_rows(
    class_index: npt.NDArray[np.int64], values: npt.NDArray[np.float64]
) -> tuple[bytes, npt.NDArray[np.int64]]:
    """Rows ``"<class> <v1> <v2> ...\\n"``, byte-identical to ``'%d' % c`` and ``'%.6f' % v``.

    Built as a character matrix with a keep-mask (sign and leading-zero padding masked out),
    so 200k rows cost a few numpy passes instead of 200k Python format calls; in blocks of
    rows to keep the temporaries small.

    Returns the bytes of all rows and the ``(R,)`` length of each row.
    """
    block = 1 << 15
    if len(values) <= block:
        return _format_block(class_index, values)
    done = [_format_block(class_index[i : i + block], values[i : i + block]) for i in range(0, len(values), block)]
    return b"".join(d[0] for d in done), np.concatenate([d[1] for d in done])


def _format_block(
    class_index: npt.NDArray[np.int64], values: npt.NDArray[np.float64]
) -> tuple[bytes, npt.NDArray[np.int64]]:
    rows, cols = values.shape
    q = _fixed6(values)
    if q is None:  # inf/nan or huge values: let Python spell them
        fmt = "%d" + " %.6f" * cols + "\n"
        lines = [fmt % (c, *v) for c, v in zip(class_index.tolist(), values.tolist(), strict=True)]
        return "".join(lines).encode("ascii"), np.fromiter(map(len, lines), np.int64, rows)
    aq = np.abs(q)
    whole, frac = aq // 1_000_000, aq % 1_000_000
    int_len = _digit_count(whole)
    cls_len = _digit_count(class_index)
    int_width = int(int_len.max()) if int_len.size else 1
    cls_width = int(cls_len.max()) if cls_len.size else 1
    field_width = 1 + int_width + 1 + 6 + 1  # sign, integer digits, '.', 6 decimals, separator
    chars = np.empty((rows, cls_width + 1 + cols * field_width), dtype=np.uint8)
    keep = np.ones(chars.shape, dtype=bool)
    chars[:, :cls_width] = _digits(class_index, cls_width)
    keep[:, :cls_width] = np.arange(cls_width) >= (cls_width - cls_len)[:, None]
    chars[:, cls_width] = 32
    f = chars[:, cls_width + 1 :].reshape(rows, cols, field_width)
    k = keep[:, cls_width + 1 :].reshape(rows, cols, field_width)
    f[..., 0] = 45  # '-', kept for negatives and -0.0 as '%.6f' does
    k[..., 0] = np.signbit(values)
    f[..., 1 : 1 + int_width] = _digits(whole, int_width)
    k[..., 1 : 1 + int_width] = np.arange(int_width) >= (int_width - int_len)[..., None]
    f[..., 1 + int_width] = 46  # '.'
    f[..., 2 + int_width : 8 + int_width] = _digits(frac, 6)
    f[..., -1] = 32
    f[:, -1, -1] = 10
    lengths = keep.sum(axis=1, dtype=np.int64)
    return chars[keep].tobytes(), lengths


def _gather(
    parts: list[tuple[npt.NDArray[np.int64], bytes, npt.NDArray[np.int64]]], total: int
) -> tuple[bytes, npt.NDArray[np.int64]]:
    """Interleave formatted row groups ``(rows, bytes, lengths)`` back into row order."""
    if not parts:
        return b"", np.zeros(total, dtype=np.int64)
    if len(parts) == 1 and np.array_equal(parts[0][0], np.arange(total)):
        return parts[0][1], parts[0][2]
    blob = np.frombuffer(b"".join(p[1] for p in parts), dtype=np.uint8)
    rows = np.concatenate([p[0] for p in parts])
    lengths_src = np.concatenate([p[2] for p in parts])
    starts_src = np.zeros(len(lengths_src), dtype=np.int64)
    np.cumsum(lengths_src[:-1], out=starts_src[1:])
    lengths = np.zeros(total, dtype=np.int64)
    starts = np.zeros(total, dtype=np.int64)
    lengths[rows], starts[rows] = lengths_src, starts_src
    out_starts = np.zeros(total, dtype=np.int64)
    np.cumsum(lengths[:-1], out=out_starts[1:])
    index = np.repeat(starts - out_starts, lengths) + np.arange(int(lengths.sum()))
    return blob[index].tobytes(), lengths


def _image_sizes(ds: Dataset, need: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Width and height of each image (NaN when unknown): the table's, else the header's where `need`."""
    width = ds.images["width"].to_numpy(dtype=np.float64, na_value=np.nan)
    height = ds.images["height"].to_numpy(dtype=np.float64, na_value=np.nan)
    unknown = np.flatnonzero((np.isnan(width) | np.isnan(height)) & need)
    names = ds.images["file_name"].to_numpy()
    for i in unknown.tolist():
        try:
            width[i], height[i], _ = _image_size(str(ds.resolve(names[i])))
        except InputError:
            continue
    return width, height


def _label_rows(
    ds: Dataset, task: str, scores: bool, width: npt.NDArray[np.float64], height: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], bytes, npt.NDArray[np.int64], list[Loss]]:
    """Rows to write, grouped by image: ``(image position of each row, row bytes, lengths, losses)``."""
    anns = ds.annotations
    xyxy = anns[["x_min", "y_min", "x_max", "y_max"]].to_numpy(dtype=np.float64)
    img_pos = ds.images.index.get_indexer(anns["image_id"].to_numpy())
    cls = ds.class_index().reindex(anns["category_id"].to_numpy()).to_numpy(dtype=np.float64, na_value=np.nan)
    ok = ~np.isnan(xyxy).any(axis=1) & (img_pos >= 0) & ~np.isnan(cls)
    w = np.where(img_pos >= 0, width[img_pos], np.nan)
    h = np.where(img_pos >= 0, height[img_pos], np.nan)
    no_size = ok & (np.isnan(w) | np.isnan(h))
    losses = []
    if no_size.any():
        lost_images = np.unique(anns["image_id"].to_numpy()[no_size])
        losses.append(
            Loss(
                "unknown-image-size",
                f"YOLO coordinates are relative to the image size, unknown for {len(lost_images)} images "
                "(no width/height and no readable image file): their annotations were not written",
                int(no_size.sum()),
                _examples(anns.index[no_size]),
            )
        )
    sel = np.flatnonzero(ok & ~no_size)
    if len(sel) > 1 and (np.diff(img_pos[sel]) < 0).any():  # images not in id order: group rows by image
        sel = sel[np.argsort(img_pos[sel], kind="stable")]
    cls_sel = cls[sel].astype(np.int64)
    w, h = w[sel], h[sel]
    score = anns["score"].to_numpy(dtype=np.float64)[sel]
    with_score = ~np.isnan(score) if scores else np.zeros(len(sel), dtype=bool)
    parts: list[tuple[npt.NDArray[np.int64], bytes, npt.NDArray[np.int64]]] = []
    polygon_rows = np.zeros(len(sel), dtype=bool)
    if task == "segment":
        seg = anns["segmentation"].to_numpy()[sel]
        polygon_rows = np.fromiter(
            (isinstance(s, list) and sum(len(p) for p in s) >= 3 for s in seg), dtype=bool, count=len(sel)
        )
        by_arity: dict[int, list[tuple[int, npt.NDArray[np.float64]]]] = {}
        for r in np.flatnonzero(polygon_rows).tolist():
            flat = (_join_parts(seg[r]) / (w[r], h[r])).ravel()
            if with_score[r]:
                flat = np.append(flat, score[r])
            by_arity.setdefault(len(flat), []).append((r, flat))
        for group in by_arity.values():
            rows = np.fromiter((r for r, _ in group), np.int64, len(group))
            blob, lengths = _format_rows(cls_sel[rows], np.stack([v for _, v in group]))
            parts.append((rows, blob, lengths))
    box_rows = np.flatnonzero(~polygon_rows)
    if len(box_rows):
        b = sel[box_rows]
        if task == "segment":  # a box-only object as a 4-point rectangle: x1 y1 x2 y1 x2 y2 x1 y2
            x = xyxy[b][:, [0, 2]] / w[box_rows, None]
            y = xyxy[b][:, [1, 3]] / h[box_rows, None]
            coords = np.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 0], x[:, 1], y[:, 1], x[:, 0], y[:, 1]], axis=1)
        else:
            coords = xyxy_to_cxcywh_norm(xyxy[b], w[box_rows], h[box_rows])
        for scored in (False, True):
            pick = with_score[box_rows] == scored
            if not pick.any():
                continue
            vals = np.column_stack([coords[pick], score[box_rows[pick]]]) if scored else coords[pick]
            blob, lengths = _format_rows(cls_sel[box_rows[pick]], vals)
            parts.append((box_rows[pick], blob, lengths))
    blob, lengths = _gather(parts, len(sel))
    return img_pos[sel], blob, lengths, losses


def _write_label_files(
    out: Path, label_paths: list[str], img_pos: npt.NDArray[np.int64], blob: bytes, lengths: npt.NDArray[np.int64]
) -> None:
    """One file per image (empty for images without rows); `img_pos` is sorted, rows grouped by image."""
    for folder in sorted({p.rpartition("/")[0] for p in label_paths}):
        os.makedirs(out / folder, exist_ok=True)
    ends = np.concatenate(([0], np.cumsum(lengths)))
    n = len(label_paths)
    byte_start = ends[np.searchsorted(img_pos, np.arange(n), side="left")].tolist()
    byte_stop = ends[np.searchsorted(img_pos, np.arange(n), side="right")].tolist()
    view = memoryview(blob)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
    # os.open/os.write relative to the output folder's descriptor: ~2.5x faster than open() per
    # file, which is most of the time at 50k files.
    use_dir_fd = os.open in os.supports_dir_fd
    dir_fd = os.open(out, os.O_RDONLY) if use_dir_fd else None
    try:
        for path, a, b in zip(label_paths, byte_start, byte_stop, strict=True):
            fd = os.open(path if use_dir_fd else os.path.join(out, path), flags, 0o644, dir_fd=dir_fd)
            try:
                while a < b:
                    a += os.write(fd, view[a:b])
            finally:
                os.close(fd)
    finally:
        if dir_fd is not None:
            os.close(dir_fd)


def _yaml_scalar(text: str) -> str:
    """`text` as a YAML scalar: plain when unambiguous, else double-quoted with escapes."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_./-]*( [A-Za-z0-9_./-]+)*", text) and text.lower() not in _YAML_WORDS:
        return text
    quoted = json.dumps(text, ensure_ascii=False)
    return _YAML_UNPRINTABLE.sub(
        lambda m: f"\\u{ord(m[0]):04x}" if ord(m[0]) < 0x10000 else f"\\U{ord(m[0]):08x}", quoted
    )


_YAML_WORDS = frozenset(
    {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", "nan", "inf", ".nan", ".inf"}
)
# Characters PyYAML will not read raw, and YAML 1.1 line breaks (which a quoted scalar would fold).
_YAML_UNPRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\x85\u2028\u2029]"
)


def write(
    ds: Dataset,
    out_dir: Path,
    *,
    images: str = "copy",
    layout: str = "ultralytics",
    task: str = "detect",
    scores: bool = False,
) -> WriteReport:
    """Write `ds` as YOLO txt labels into the fresh folder `out_dir`.

    ``layout="ultralytics"``: ``data.yaml`` (split keys -> ``images/<split>``, ``nc``, ``names``
    as ``{index: name}``), ``images/<split>/<name>``, ``labels/<split>/<stem>.txt``; without
    splits ``images/`` and ``labels/``, with train and val both ``images``.
    ``layout="darknet"``: ``obj.names``, ``obj.data``, ``<split>.txt`` lists of
    ``data/obj_<split>_data/<name>``, labels beside the images.

    Every image gets a label file (empty when it has no objects). Class index = position of the
    category in id order. Rows in annotation order, ``%.6f`` numbers, ``\\n`` line ends.
    ``task="segment"`` writes polygons (box-only objects as 4-point rectangles); ``scores=True``
    adds a last ``conf`` number to rows that have a score. Image sizes come from the table, or
    from the image header where the table lacks them.

    Raises:
        UsageError: unknown layout, task or images mode.
        OutputError: a file name would escape `out_dir` (absolute or ``..``).
    """
    _check_write_options(layout, task, scores)
    if images not in IMAGE_MODES:
        raise UsageError(f"unknown images mode {images!r}; choose one of {', '.join(IMAGE_MODES)}")
    out = Path(out_dir)
    frame, label, _ = _placement(ds, layout)
    image_members = _member_paths(frame["image"].tolist(), out)
    label_paths = _member_paths(label.tolist(), out)
    pos = ds.images.index.get_indexer(ds.annotations["image_id"].to_numpy())
    has_rows = np.zeros(len(ds.images), dtype=bool)
    has_rows[pos[pos >= 0]] = True
    width, height = _image_sizes(ds, has_rows)
    img_pos, blob, lengths, losses = _label_rows(ds, task, scores, width, height)
    _write_label_files(out, label_paths, img_pos, blob, lengths)

    names = ds.categories["name"].astype(str).tolist()
    order = {"train": 0, "val": 1, "test": 2}
    splits = sorted((s for s in frame["split"].unique().tolist() if s), key=lambda s: (order.get(s, 3), s))
    if layout == "ultralytics":
        _write_data_yaml(out, splits, names)
        for folder in [f"{kind}/{s}" for s in splits for kind in ("images", "labels")] or ["images", "labels"]:
            (out / folder).mkdir(parents=True, exist_ok=True)  # what data.yaml names exists, even if empty
    else:
        _write_darknet_config(out, frame["split"].tolist(), image_members, splits, names)

    placed, missing = place_images(ds, (out / member for member in image_members), images)
    _LAST_PLACEMENT.clear()
    return WriteReport(
        format="yolo",
        path=str(out),
        images=len(ds.images),
        annotations=len(lengths),
        categories=len(names),
        images_transferred=placed,
        images_missing=missing,
        losses=losses,
        options={"layout": layout, "task": task, "scores": scores},
    )


def _write_data_yaml(out: Path, splits: list[str], names: list[str]) -> None:
    """data.yaml: one key per split (train and val always), nc, and names as {index: name}."""
    # No `path:` key: Ultralytics then resolves the split folders from the data.yaml's own
    # folder, wherever the dataset is moved. A relative `path: .` would be read relative to
    # the current directory (or to Ultralytics' DATASETS_DIR in older versions).
    lines = []
    if not splits:
        lines += ["train: images", "val: images"]
    else:
        folders = {s: f"images/{s}" for s in splits}
        fill = folders.get("train") or folders.get("val") or folders[splits[0]]
        keys = {"train": folders.get("train", fill), "val": folders.get("val", fill)}
        keys.update({s: folders[s] for s in splits if s not in keys})
        lines += [f"{_yaml_scalar(k)}: {_yaml_scalar(v)}" for k, v in keys.items()]
    lines.append(f"nc: {len(names)}")
    lines.append("names:" if names else "names: {}")
    lines += [f"  {i}: {_yaml_scalar(name)}" for i, name in enumerate(names)]
    (out / "data.yaml").write_bytes(("\n".join(lines) + "\n").encode("utf-8"))


def _darknet_name(name: str) -> str:
    return re.sub(r"[\r\n]+", " ", name).strip() or "_"


def _write_darknet_config(
    out: Path, image_splits: list[str], image_members: list[str], splits: list[str], names: list[str]
) -> None:
    """obj.names, one ``<split>.txt`` list per split folder, and obj.data pointing at them.

    Paths are written as darknet's own ``data/`` folder expects (as CVAT and datumaro do);
    without splits the one list serves as both train and valid.
    """
    (out / "obj.names").write_bytes("".join(_darknet_name(n) + "\n" for n in names).encode("utf-8"))
    lists: dict[str, list[str]] = {}
    for split, member in zip(image_splits, image_members, strict=True):
        lists.setdefault(split or "train", []).append(f"data/{member}\n")
    written = splits or ["train"]
    for split in written:
        (out / f"{split}.txt").write_bytes("".join(lists.get(split, [])).encode("utf-8"))
    keys = {"train": "train", "val": "valid", "test": "test"}
    lines = [f"classes = {len(names)}"]
    lines += [f"{keys.get(split, split)} = data/{split}.txt" for split in written]
    if not splits:
        lines.append("valid = data/train.txt")
    lines += ["names = data/obj.names", "backup = backup/"]
    (out / "obj.data").write_bytes(("\n".join(lines) + "\n").encode("utf-8"))


FORMAT = FormatSpec(
    "yolo",
    "YOLO txt labels: Ultralytics (data.yaml) or darknet (obj.data) layout; boxes, polygons (task=segment), scores",
    _capabilities("detect", False),
    detect,
    read,
    write,
    extensions=(".txt",),
    plan=plan,
)
