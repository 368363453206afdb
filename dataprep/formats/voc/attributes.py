"""What VOC can hold of an object's attributes, and their xml: flags, pose, parts, actions, CVAT attributes.

`check_attributes` says which keys are dropped or come back retyped (for `plan`);
`extras_xml` renders the rest (for `write`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np

from dataprep.dataset import BOX_COLUMNS
from dataprep.formats.voc.parse import BOX_FIELDS, FLAGS, flag_value, typed_value

_RESERVED = frozenset({*FLAGS, "pose", "parts", "actions"})
_PART_KEYS = ("name", *BOX_COLUMNS)
XML_INVALID_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_NEEDS_ESCAPE_RE = re.compile("[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_TAG_RE = re.compile(r"[A-Za-z_][\w.-]*\Z")


# -- attribute values --------------------------------------------------------------------


def plain(value: Any) -> Any:
    """numpy scalars -> Python scalars (attributes built in code may hold them)."""
    return value.item() if isinstance(value, np.generic) else value


def _coordinate_text(value: float) -> str:
    """A part coordinate: an integer when whole, else the shortest repr after 1e-9 rounding."""
    v = round(float(value), 9)
    return str(int(v)) if v.is_integer() else repr(v)


def _retypes(text: str) -> bool:
    """True when `text` would be read back as something other than this str."""
    return typed_value(text) != text


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


def _reserved_fits(key: str, value: Any) -> tuple[bool, bool]:
    """``(fits, comes back retyped)`` for a flag, ``pose``, ``parts`` or ``actions`` value."""
    if key in FLAGS:
        if isinstance(value, bool | int):
            return True, False
        if isinstance(value, str):
            return True, flag_value(value) != value
        return False, False
    if key == "pose":
        if not isinstance(value, str):
            return False, False
        return True, not value.strip() or value != value.strip()
    if key == "parts":
        return _valid_parts(value), False
    fits = isinstance(value, dict) and all(
        isinstance(plain(v), bool | int | str) and _is_tag(str(k)) for k, v in value.items()
    )
    return fits, False


def check_attributes(attrs: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Keys of `attrs` VOC cannot hold (dropped) and keys whose str value comes back typed."""
    dropped: list[str] = []
    retyped: list[str] = []
    for key, raw in attrs.items():
        value = plain(raw)
        if key in _RESERVED:
            fits, typed = _reserved_fits(key, value)
            if not fits:
                dropped.append(key)
            elif typed:
                retyped.append(key)
        elif not isinstance(key, str) or not key.strip() or key != key.strip() or XML_INVALID_RE.search(key):
            retyped.append(key)  # the name comes back as a stripped str
        elif isinstance(value, bool | int):
            continue
        elif isinstance(value, float):
            if not np.isfinite(value):  # "nan"/"inf" come back as text
                retyped.append(key)
        elif isinstance(value, str):
            if _retypes(value) or XML_INVALID_RE.search(value):
                retyped.append(key)
        else:
            dropped.append(key)
    return dropped, retyped


# -- xml text ----------------------------------------------------------------------------


def escape(text: str) -> str:
    if not _NEEDS_ESCAPE_RE.search(text):
        return text
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return XML_INVALID_RE.sub("\ufffd", text)  # characters XML 1.0 cannot carry


def _flag_text(value: Any) -> str:
    value = plain(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    return escape(str(value))


def _attribute_value_text(value: Any) -> str:
    value = plain(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return escape(str(value))


def _parts_xml(parts: list[dict[str, Any]]) -> str:
    out = []
    for part in parts:
        voc = (float(part["x_min"]) + 1.0, float(part["y_min"]) + 1.0, float(part["x_max"]), float(part["y_max"]))
        coords = "".join(f"        <{f}>{_coordinate_text(v)}</{f}>\n" for f, v in zip(BOX_FIELDS, voc, strict=True))
        out.append(
            f"    <part>\n      <name>{escape(part['name'])}</name>\n"
            f"      <bndbox>\n{coords}      </bndbox>\n    </part>\n"
        )
    return "".join(out)


def extras_xml(attrs: dict[str, Any], dropped: Iterable[str]) -> tuple[str, str]:
    """``(pose/flag elements, part/actions/attributes elements)`` for an object's attributes.

    Keys in `dropped` (what `check_attributes` found VOC cannot hold) are skipped; `plan` reports them.
    """
    dropped = set(dropped)
    pose = plain(attrs.get("pose"))
    head = [f"    <pose>{escape(pose) if isinstance(pose, str) and 'pose' not in dropped else 'Unspecified'}</pose>\n"]
    for flag in ("truncated", "difficult"):
        value = attrs.get(flag, False) if flag not in dropped else False
        head.append(f"    <{flag}>{_flag_text(value)}</{flag}>\n")
    if "occluded" in attrs and "occluded" not in dropped:
        head.append(f"    <occluded>{_flag_text(attrs['occluded'])}</occluded>\n")
    tail: list[str] = []
    if "parts" in attrs and "parts" not in dropped:
        tail.append(_parts_xml(attrs["parts"]))
    if "actions" in attrs and "actions" not in dropped:
        flags = "".join(f"      <{k}>{_flag_text(v)}</{k}>\n" for k, v in attrs["actions"].items())
        tail.append(f"    <actions>\n{flags}    </actions>\n")
    extra = [(k, v) for k, v in attrs.items() if k not in _RESERVED and k not in dropped]
    if extra:
        items = "".join(
            f"      <attribute>\n        <name>{escape(str(k))}</name>\n"
            f"        <value>{_attribute_value_text(v)}</value>\n      </attribute>\n"
            for k, v in extra
        )
        tail.append(f"    <attributes>\n{items}    </attributes>\n")
    return "".join(head), "".join(tail)
