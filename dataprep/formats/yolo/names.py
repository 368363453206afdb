"""YOLO class names: from data.yaml ``names``/``nc``, from a names file, and for indices no file names."""

from __future__ import annotations

import os
from typing import Any

from dataprep.errors import InputError
from dataprep.formats.base import MAX_EXAMPLES
from dataprep.formats.yolo._common import ReadContext, read_text, short


def from_list(values: list[Any], source: str, ctx: ReadContext, *, trim: bool = True) -> dict[int, str]:
    """Names by position; empty ones become ``class_<index>`` (noted).

    `trim` strips surrounding whitespace (lines of a names file); YAML names are kept as written,
    so a quoted ``" cat "`` survives COCO -> YOLO -> COCO (issue 7, item 21).
    """
    names: dict[int, str] = {}
    blank = []
    for i, v in enumerate(values):
        text = "" if v is None else str(v)
        if trim or not text.strip():
            text = text.strip()
        if not text:
            blank.append(i)
            text = f"class_{i}"
        names[i] = text
    if blank:
        ctx.notes.append(f"{source}: {len(blank)} empty class names (indices {short(blank)}) named class_<index>")
    return names


def from_file(path: str, ctx: ReadContext) -> dict[int, str]:
    """One name per line (``obj.names``, ``classes.txt``); trailing blank lines dropped."""
    lines = [line.rstrip("\r") for line in read_text(path, what="class names file").split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    return from_list(lines, os.path.basename(path), ctx)


def from_yaml(doc: dict[str, Any], config: str, ctx: ReadContext) -> dict[int, str]:
    """data.yaml ``names`` (a list or ``{index: name}``), checked against ``nc``.

    Raises:
        InputError: neither names nor nc, a bad nc, a bad index, or names of another type.
    """
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
        out = from_list(names, "data.yaml names", ctx, trim=False)
    elif isinstance(names, dict):
        out = _from_mapping(names, config)
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


def _from_mapping(names: dict[Any, Any], config: str) -> dict[int, str]:
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
        text = "" if value is None else str(value)  # as written: YAML quotes outer spaces on purpose
        out[index] = text if text.strip() else f"class_{index}"
    return out


def complete(names: dict[int, str] | None, source: str | None, used: list[int], ctx: ReadContext) -> dict[int, str]:
    """The class names to use: `names` plus ``class_<index>`` for used indices beyond them, made unique."""
    out = dict(names or {})
    beyond = [c for c in used if c not in out]
    if beyond:
        if names is None:
            ctx.notes.append("no class names file (obj.names, classes.txt): classes named class_<index>")
            out = {i: f"class_{i}" for i in range(max(beyond) + 1)}
        else:
            ctx.notes.append(
                f"class indices {short(beyond)} are beyond the {len(out)} names in {source or 'the names'}:"
                " named class_<index>"
            )
            taken = set(out.values())
            for c in beyond:
                name = f"class_{c}"
                while name in taken:
                    name += "_"
                out[c] = name
                taken.add(name)
    return _unique(out, ctx)


def _unique(names: dict[int, str], ctx: ReadContext) -> dict[int, str]:
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
