"""Finding a YOLO dataset's files: its config, images, splits, class names and label files.

Three layouts, one function each, each returning a frozen `Layout`:

- `ultralytics_layout`: ``data.yaml`` (splits as folders, ``.txt`` lists of images, or lists of
  those; labels found by replacing the last ``images`` path component with ``labels``);
- `darknet_layout`: ``obj.data`` (list files, labels beside the images);
- `loose_layout`: folders without a config (``images/`` + ``labels/``, ``Images/`` +
  ``Annotations/``, or labels beside the images, with ``obj.names``/``classes.txt`` for the names).

`label_path_for` is the images -> labels rule, kept here once for the reader and for validation.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dataprep.errors import InputError
from dataprep.files import read_yaml
from dataprep.formats.base import SPLIT_ALIASES, UNASSIGNED_SPLIT
from dataprep.formats.yolo import names as class_names
from dataprep.formats.yolo._common import (
    CONFIG_YAMLS,
    NAMES_FILES,
    NOT_LABELS,
    Listing,
    ReadContext,
    is_image,
    read_text,
    relative,
)

# (image folder, label folder) pairs: Ultralytics replaces the last `images` component with
# `labels`; darknet's VOC scripts put labels/ beside JPEGImages/; datumaro's loose YOLO layout
# pairs Images/ with Annotations/. A label beside its image is the last resort (darknet).
MIRRORS = (("images", "labels"), ("JPEGImages", "labels"), ("Images", "Annotations"))
# data.yaml keys that are not splits (the rest are, when their value names existing images).
_YAML_RESERVED = frozenset(
    {"path", "names", "nc", "download", "kpt_shape", "flip_idx", "channels", "yaml_file", "roboflow", "license", "url"}
)
_YAML_SPLITS = ("train", "val", "test", "minival")
_DARKNET_SPLIT_KEYS = {"train": "train", "valid": "val", "val": "val", "test": "test"}
_DARKNET_RESERVED = frozenset({"classes", "names", "backup", "eval", "results", "map", "top"})


@dataclass(frozen=True)
class Layout:
    """What the layout resolution found: the images (with splits) and the class names.

    `image_paths` are absolute and normalized, in the order the config lists them;
    `image_splits` holds one split (or None) per image. `listing` caches the folders looked at.
    """

    kind: str  # "ultralytics", "darknet" or "loose"
    root: str
    config: str | None
    image_paths: tuple[str, ...]
    image_splits: tuple[str | None, ...]
    names: dict[int, str] | None
    names_source: str | None
    listing: Listing = field(repr=False, compare=False)
    keypoints: int = 0  # numbers per row after the box in a pose dataset (kpt_shape)
    keypoint_dim: int = 0  # numbers per keypoint: 2 (x y) or 3 (x y visibility); 0 when not a pose dataset


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
    for name in CONFIG_YAMLS:
        if name in entries and _detect_file(path / name):
            return 0.9
    if "obj.data" in entries:
        return 0.9
    has_names = any(n in entries for n in NAMES_FILES)
    for label_dir in ("labels", "Annotations", "Labels"):
        if label_dir in entries and entries[label_dir].is_dir() and _has_txt(path / label_dir, depth=2):
            return 0.9 if has_names else 0.5
    if has_names and _has_txt(path, depth=2, skip=NOT_LABELS):
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
# the three layouts


def find(path: Path, ctx: ReadContext) -> Layout:
    """The layout of the dataset at `path` (a folder, a data.yaml or an obj.data file).

    Raises:
        InputError: not a YOLO path, several configs, or a config without names or splits.
    """
    listing = Listing()
    kind, config, root = _locate(Path(path), ctx)
    if kind == "ultralytics":
        layout = ultralytics_layout(config, ctx, listing)  # type: ignore[arg-type]
    elif kind == "darknet":
        layout = darknet_layout(config, ctx, listing)  # type: ignore[arg-type]
    else:
        layout = loose_layout(root, ctx, listing)
    ctx.notes.insert(0, f"layout: {layout.kind}" + (f" ({os.path.basename(config)})" if config else ""))
    return layout


def _locate(path: Path, ctx: ReadContext) -> tuple[str, str | None, str]:
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
        entries = set(os.listdir(p))
    except OSError as err:
        raise InputError(p, f"cannot list the folder: {err.strerror or err}", hint="Check the path") from None
    for name in CONFIG_YAMLS:
        if name in entries:
            return "ultralytics", os.path.join(p, name), p
    yamls = sorted(n for n in entries if n.lower().endswith((".yaml", ".yml")) and _detect_file(Path(p, n)))
    if len(yamls) == 1:
        ctx.notes.append(f"config: {yamls[0]}")
        return "ultralytics", os.path.join(p, yamls[0]), p
    if len(yamls) > 1:
        raise InputError(
            p,
            f"several dataset yaml files: {', '.join(yamls)}",
            hint="Pass the one to read as the path (e.g. dataprep convert DATASET/" + yamls[0] + " ...)",
        )
    if "obj.data" in entries:
        return "darknet", os.path.join(p, "obj.data"), p
    datas = sorted(n for n in entries if n.lower().endswith(".data") and _detect_file(Path(p, n)))
    if len(datas) == 1:
        return "darknet", os.path.join(p, datas[0]), p
    return "loose", None, p


def ultralytics_layout(config: str, ctx: ReadContext, listing: Listing) -> Layout:
    """The layout a data.yaml describes: names, the ``path`` root, and the images of each split key.

    Raises:
        InputError: not a mapping, no names, no split that lists images, or a split entry of the wrong kind.
    """
    doc = read_yaml(config)[0]  # refuses alias bombs and deep nesting before building anything
    if not isinstance(doc, dict):
        raise InputError(
            config,
            f"expected a mapping of keys (train, val, names...), got {type(doc).__name__}",
            hint="See https://docs.ultralytics.com/datasets/detect/ for the data.yaml keys",
        )
    ydir = os.path.dirname(config)
    names = class_names.from_yaml(doc, config, ctx)
    keypoints = 0
    kpt = doc.get("kpt_shape")
    if isinstance(kpt, list) and kpt and all(isinstance(k, int) and k > 0 for k in kpt):
        keypoints = int(np.prod(kpt))
        if len(kpt) == 2 and kpt[1] in (2, 3):
            ctx.notes.append(f"pose dataset (kpt_shape {kpt}): keypoints kept as COCO keypoints [x, y, v, ...]")
        else:
            ctx.notes.append(f"pose dataset (kpt_shape {kpt}): not [K, 2] or [K, 3], keypoints not read")
    bases = _yaml_bases(doc, ydir, ctx)
    if "val" not in doc and "validation" in doc:
        doc["val"] = doc.pop("validation")
    keys = _yaml_split_keys(doc, bases, ctx)
    per_key = {key: _yaml_split_images(doc, key, config, bases, ctx, listing) for key in keys}
    if not per_key:
        raise InputError(
            config,
            "no split lists images (train, val, test are all missing or empty)",
            record="train",
            hint="Add train: images/train (a folder, a .txt list of images, or a list of those)",
        )
    paths, splits = _assign_splits(per_key, bases[0], ctx)
    dim = int(kpt[1]) if keypoints and len(kpt) == 2 and kpt[1] in (2, 3) else 0
    return Layout(
        "ultralytics", bases[0], config, paths, splits, names, os.path.basename(config), listing, keypoints, dim
    )


def _yaml_bases(doc: dict[str, Any], ydir: str, ctx: ReadContext) -> list[str]:
    """Folders split entries are resolved from: data.yaml's ``path`` (when it exists), then its own folder."""
    root_text = doc.get("path")
    if isinstance(root_text, str) and root_text.strip():
        candidate = root_text if os.path.isabs(root_text) else os.path.join(ydir, root_text)
        if os.path.isdir(candidate):
            return [os.path.normpath(candidate), ydir]
        ctx.notes.append(f"data.yaml path {root_text!r} not found: split folders resolved from the data.yaml folder")
    return [ydir]


def _yaml_split_keys(doc: dict[str, Any], bases: list[str], ctx: ReadContext) -> list[str]:
    """train/val/test/minival when set, then other keys whose values name existing images (noted otherwise)."""
    split_keys = [k for k in _YAML_SPLITS if doc.get(k)]
    extra = []
    for key, value in doc.items():
        if key in split_keys or key in ("path", "names", "nc", "kpt_shape", *_YAML_SPLITS):
            continue
        entries = value if isinstance(value, list) else [value]
        if key not in _YAML_RESERVED and entries and all(_names_images(e, bases) for e in entries):
            split_keys.append(key)  # a split of its own name (what we write for e.g. "unassigned")
        else:
            extra.append(key)
    if extra:
        ctx.notes.append(f"data.yaml keys not read: {', '.join(sorted(extra))}")
    return split_keys


def _yaml_split_images(
    doc: dict[str, Any], key: str, config: str, bases: list[str], ctx: ReadContext, listing: Listing
) -> list[str]:
    """Absolute image paths of one split key: folders walked, lists read, entries not found reported."""
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
            orphans = _labels_of_missing_folder(entry, bases, listing)
            held = f"; its label folder holds {len(orphans):,} label files without images" if orphans else ""
            ctx.fail(
                InputError(
                    config,
                    f"{key}: {entry!r} not found (looked under {bases[0]}){held}",
                    record=record,
                    hint="Fix the path (relative to the data.yaml folder or its 'path') or remove the key",
                ),
                "missing-split",
            )
            for label in orphans:
                ctx.fail(
                    InputError(label, "label file without an image: its boxes cannot be turned into pixels"),
                    "label-without-image",
                )
            continue
        target = _apply(entry, how)
        if os.path.isdir(target):
            paths.extend(walk_images(target, listing))
        elif target.lower().endswith(".txt"):
            paths.extend(_list_file(target, [os.path.dirname(target), *bases], ctx, listing))
        elif is_image(target):
            paths.append(target)
        else:
            raise InputError(
                config,
                f"{key}: {entry!r} is neither a folder, a .txt list nor an image",
                record=record,
                hint="Point it at the folder of images or at a .txt list of image paths",
            )
    return paths


def _labels_of_missing_folder(entry: str, bases: list[str], listing: Listing) -> list[str]:
    """The label files in the label folder of an image folder that does not exist (sorted paths)."""
    folder = _norm_parts(entry)
    mirrors = label_dirs("/".join(folder), "/")[:-1]
    for mirror in mirrors:
        how = _resolve(mirror, bases, exists=os.path.isdir)
        if how is not None:
            target = _apply(mirror, how)
            txt = sorted(n for n in listing.names(target) if n[-4:].lower() == ".txt" and n.lower() not in NOT_LABELS)
            return [os.path.join(target, n) for n in txt]
    return []


def _names_images(entry: Any, bases: list[str]) -> bool:
    """True when a data.yaml value names an existing folder or .txt list (so its key is a split)."""
    if not isinstance(entry, str) or "://" in entry or "\n" in entry or not entry.strip():
        return False
    how = _resolve(entry, bases)
    if how is None:
        return False
    target = _apply(entry, how)
    return os.path.isdir(target) or target.lower().endswith(".txt")


def darknet_layout(config: str, ctx: ReadContext, listing: Listing) -> Layout:
    """The layout an obj.data describes: the names file (or a class count) and the image lists.

    Raises:
        InputError: a line that is not ``key = value``, no names, or no image list.
    """
    values = _darknet_values(config)
    cdir = os.path.dirname(config)
    bases = [cdir, os.path.dirname(cdir)]
    names, names_source = _darknet_names(values, config, bases, ctx)
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
    paths, splits = _assign_splits(per_key, cdir, ctx)
    return Layout("darknet", cdir, config, paths, splits, names, names_source, listing)


def _darknet_values(config: str) -> dict[str, tuple[str, int]]:
    """obj.data as ``{lowercase key: (value, line number)}``; ``#`` starts a comment."""
    text = read_text(config, what="obj.data file")
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
    return values


def _darknet_names(
    values: dict[str, tuple[str, int]], config: str, bases: list[str], ctx: ReadContext
) -> tuple[dict[int, str], str | None]:
    """The class names of an obj.data (its names file, else class_<i> for ``classes``) and their source."""
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
    source = None
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
        names = class_names.from_file(names_path, ctx)
        source = os.path.basename(names_path)
    elif classes is not None:
        names = {i: f"class_{i}" for i in range(classes)}
        ctx.notes.append(f"obj.data has no names file: classes named class_0..class_{max(classes - 1, 0)}")
    else:
        raise InputError(
            config,
            "no class names: neither 'names' nor 'classes' is given",
            record="names",
            hint="Add names = data/obj.names",
        )
    if classes is not None and classes != len(names):
        ctx.fail(
            InputError(
                config,
                f"classes is {classes} but the names file has {len(names)} names",
                line=values["classes"][1],
                hint="Make classes equal the number of names",
            ),
            "bad-config",
        )
    return names, source


def loose_layout(root: str, ctx: ReadContext, listing: Listing) -> Layout:
    """Every image under `root`, splits from folder names, names from ``obj.names``/``classes.txt``/``*.names``."""
    names = source = None
    top = listing.names(root)
    for name in NAMES_FILES:
        if name in top:
            names, source = class_names.from_file(os.path.join(root, name), ctx), name
            break
    else:
        other = sorted(n for n in top if n.lower().endswith(".names"))
        if other:
            names, source = class_names.from_file(os.path.join(root, other[0]), ctx), other[0]
    paths = tuple(walk_images(root, listing))
    splits = tuple(_split_from_path(rel) for rel in relative(list(paths), root))
    if any(s is not None for s in splits):
        found = sorted({s for s in splits if s is not None})
        ctx.notes.append(f"splits from folder names: {', '.join(found)}")
    return Layout("loose", root, None, paths, splits, names, source, listing)


# ---------------------------------------------------------------------------------------------
# paths in configs and lists


def walk_images(top: str, listing: Listing) -> list[str]:
    """Image files under `top`, recursively (hidden folders skipped), sorted."""
    if top in listing.walked:
        return listing.walked[top]
    found: list[str] = []
    for folder, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        listing.add(folder, [*files, *dirs])
        prefix = folder.rstrip(os.sep) + os.sep
        found.extend(prefix + f for f in files if is_image(f))
    listing.walked[top] = sorted(found)
    return listing.walked[top]


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


def _list_file(list_path: str, bases: list[str], ctx: ReadContext, listing: Listing) -> list[str]:
    """Absolute image paths listed one per line in a darknet/Ultralytics .txt list."""
    text = read_text(list_path, what="image list")
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
        if found is None:  # the image is missing: its label file still says where the list points
            found = _resolve(label_path_for(line), bases, exists=listing.exists) or _resolve(
                label_name(line), bases, exists=listing.exists
            )
            if found is not None:
                how = found
        if found is None or not listing.exists(_apply(line, found)):
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


def _assign_splits(
    per_key: dict[str, list[str]], root: str, ctx: ReadContext
) -> tuple[tuple[str, ...], tuple[str | None, ...]]:
    """One split per image: ``(image paths, splits)``; an image listed under several keys is kept once.

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
        for p, rel in zip(list(chosen), relative(list(chosen), root), strict=True):
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
    return tuple(chosen), tuple(chosen.values())


# ---------------------------------------------------------------------------------------------
# label files


def label_path_for(image_file: str) -> str:
    """Where the label file of `image_file` is looked for first, as a POSIX path.

    The last ``images`` component becomes ``labels`` (Ultralytics' ``img2label_paths``; else the
    last ``JPEGImages`` becomes ``labels``, the last ``Images`` becomes ``Annotations``; else the
    label sits beside the image) and the last suffix becomes ``.txt``:
    ``data/images/train/a.b.jpg`` -> ``data/labels/train/a.b.txt``. Backslashes count as ``/``.
    The reader matches label files by this rule (then tries the other mirrors and the image's own folder).
    """
    folder, _, name = image_file.replace("\\", "/").rpartition("/")
    label_dir = label_dirs(folder, "/")[0]
    return (f"{label_dir}/" if folder else "") + label_name(name)


def label_name(image_name: str) -> str:
    """``a.b.jpg`` -> ``a.b.txt``: the part after the last dot becomes ``txt``."""
    return image_name.rsplit(".", 1)[0] + ".txt"


def label_dirs(image_dir: str, sep: str = os.sep) -> list[str]:
    """Folders that may hold the labels of images in `image_dir` (mirrors first, then itself)."""
    parts = image_dir.split(sep)
    out = []
    for img_name, lbl_name in MIRRORS:
        if img_name in parts:
            i = len(parts) - 1 - parts[::-1].index(img_name)
            out.append(sep.join([*parts[:i], lbl_name, *parts[i + 1 :]]))
    out.append(image_dir)
    return out
