"""Finding a YOLO dataset: detection, which of the three layouts it is, and the loose layout.

Three layouts, one function each, each returning a frozen `Layout` (`inventory`):

- `ultralytics_layout` (`data_yaml`): ``data.yaml`` (splits as folders, ``.txt`` lists of
  images, or lists of those; labels found by replacing the last ``images`` path component with
  ``labels``);
- `darknet_layout` (`obj_data`): ``obj.data`` (list files, labels beside the images), found in
  the folder given or in its ``data/`` folder (darknet's own tree: ``ROOT/data/obj.data``);
- `loose_layout` (here): folders without a config (``images/`` + ``labels/``, ``Images/`` +
  ``Annotations/``, or labels beside the images, with ``obj.names``/``classes.txt`` for the names).

`paths` resolves the entries of configs and lists and holds `label_path_for`, the images ->
labels rule, kept there once for the reader and for validation (re-exported here).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from dataprep.errors import InputError
from dataprep.formats.base import SPLIT_ALIASES
from dataprep.formats.yolo import names as class_names
from dataprep.formats.yolo._common import CONFIG_YAMLS, NAMES_FILES, NOT_LABELS, Listing, ReadContext, relative
from dataprep.formats.yolo.data_yaml import ultralytics_layout
from dataprep.formats.yolo.inventory import Layout, split_from_path
from dataprep.formats.yolo.obj_data import DARKNET_DIR, darknet_layout
from dataprep.formats.yolo.paths import MIRRORS, label_dirs, label_name, label_path_for, walk_images

__all__ = [
    "MIRRORS",
    "Layout",
    "darknet_layout",
    "detect",
    "find",
    "label_dirs",
    "label_name",
    "label_path_for",
    "loose_layout",
    "ultralytics_layout",
    "walk_images",
]


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
    if "obj.data" in entries or (DARKNET_DIR in entries and (path / DARKNET_DIR / "obj.data").is_file()):
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
# which layout


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
        layout = darknet_layout(config, ctx, listing, root=root)  # type: ignore[arg-type]
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
    if DARKNET_DIR in entries and os.path.isfile(os.path.join(p, DARKNET_DIR, "obj.data")):
        # darknet's own tree (AlexeyAB): ROOT/data/obj.data, its paths written relative to ROOT
        ctx.notes.append(f"config: {DARKNET_DIR}/obj.data")
        return "darknet", os.path.join(p, DARKNET_DIR, "obj.data"), p
    return "loose", None, p


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
    splits = tuple(split_from_path(rel) for rel in relative(list(paths), root))
    if any(s is not None for s in splits):
        found = sorted({s for s in splits if s is not None})
        ctx.notes.append(f"splits from folder names: {', '.join(found)}")
    return Layout("loose", root, None, paths, splits, names, source, listing)
