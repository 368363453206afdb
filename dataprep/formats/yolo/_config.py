"""The config files a YOLO writer adds beside the labels: Ultralytics' data.yaml, darknet's obj.names/obj.data."""

from __future__ import annotations

import json
import re
from pathlib import Path

_YAML_WORDS = frozenset(
    {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", "nan", "inf", ".nan", ".inf"}
)
# Characters PyYAML will not read raw, and YAML 1.1 line breaks (which a quoted scalar would fold).
_YAML_UNPRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\x85\u2028\u2029]"
)


def yaml_scalar(text: str) -> str:
    """`text` as a YAML scalar: plain when unambiguous, else double-quoted with escapes."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_./-]*( [A-Za-z0-9_./-]+)*", text) and text.lower() not in _YAML_WORDS:
        return text
    quoted = json.dumps(text, ensure_ascii=False)
    return _YAML_UNPRINTABLE.sub(
        lambda m: f"\\u{ord(m[0]):04x}" if ord(m[0]) < 0x10000 else f"\\U{ord(m[0]):08x}", quoted
    )


def write_data_yaml(out: Path, splits: list[str], names: list[str]) -> None:
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
        lines += [f"{yaml_scalar(k)}: {yaml_scalar(v)}" for k, v in keys.items()]
    lines.append(f"nc: {len(names)}")
    lines.append("names:" if names else "names: {}")
    lines += [f"  {i}: {yaml_scalar(name)}" for i, name in enumerate(names)]
    (out / "data.yaml").write_bytes(("\n".join(lines) + "\n").encode("utf-8"))


def darknet_name(name: str) -> str:
    """A class name as obj.names can hold it: one trimmed line, never empty."""
    return re.sub(r"[\r\n]+", " ", name).strip() or "_"


def write_darknet_config(
    out: Path, image_splits: list[str], image_members: list[str], splits: list[str], names: list[str]
) -> None:
    """obj.names, one ``<split>.txt`` list per split folder, and obj.data pointing at them.

    Paths are written as darknet's own ``data/`` folder expects (as CVAT and datumaro do);
    without splits the one list serves as both train and valid.
    """
    (out / "obj.names").write_bytes("".join(darknet_name(n) + "\n" for n in names).encode("utf-8"))
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
