"""The darknet layout: what an ``obj.data`` names (the class names file or a class count, the image lists).

Labels sit beside the images. Paths in obj.data and in the lists are resolved from obj.data's
folder, then from its parent: darknet runs from the folder above ``data/``, so its own examples
(AlexeyAB) write ``ROOT/data/obj.data`` with ``train = data/train.txt`` and lists of
``data/obj/img1.jpg``. Given ROOT, file names are relative to ROOT (``data/obj/img1.jpg``);
given ``data/`` or the obj.data file, relative to that folder (``obj/img1.jpg``).
"""

from __future__ import annotations

import os

from dataprep.errors import InputError
from dataprep.formats.yolo import names as class_names
from dataprep.formats.yolo._common import Listing, ReadContext, read_text
from dataprep.formats.yolo.inventory import Layout, assign_splits
from dataprep.formats.yolo.paths import list_file, resolve, resolved

_DARKNET_SPLIT_KEYS = {"train": "train", "valid": "val", "val": "val", "test": "test"}
_DARKNET_RESERVED = frozenset({"classes", "names", "backup", "eval", "results", "map", "top"})
DARKNET_DIR = "data"  # where darknet's own tree keeps obj.data, obj.names and the lists


def darknet_layout(config: str, ctx: ReadContext, listing: Listing, *, root: str | None = None) -> Layout:
    """The layout an obj.data describes: the names file (or a class count) and the image lists.

    Args:
        config: the obj.data file.
        root: what file names are relative to; obj.data's folder when None.

    Raises:
        InputError: a line that is not ``key = value``, no names, or no image list (all naming
            obj.data and the line); with ``on_error="raise"``, a list file that is not found.
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
        how = resolve(value, bases) if split or value.lower().endswith(".txt") else None
        if split is None and how is None:
            continue
        if how is None:
            ctx.fail(
                InputError(
                    config,
                    f"{key} list {value!r} not found (looked under {_where(bases)})",
                    line=number,
                    hint="Fix the path of the image list (relative to the obj.data folder or the one above it)",
                ),
                "missing-split",
            )
            continue
        per_key[split or key] = list_file(resolved(value, how), bases, ctx, listing)
    if not per_key:
        raise InputError(
            config, "no image list (train = ..., valid = ...)", record="train", hint="Add train = data/train.txt"
        )
    root = root or cdir
    paths, splits = assign_splits(per_key, root, ctx)
    return Layout("darknet", root, config, paths, splits, names, names_source, listing)


def _where(bases: list[str]) -> str:
    """The folders obj.data entries are resolved from, for a message."""
    return " and ".join(dict.fromkeys(bases))


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
        how = resolve(value, bases)
        if how is None:
            raise InputError(
                config,
                f"names file {value!r} not found (looked under {_where(bases)})",
                line=number,
                hint="Fix the path of the class names file (one name per line), relative to the obj.data folder"
                " or the one above it",
            )
        names_path = resolved(value, how)
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
