"""What a change did to a dataset: images and annotations added or removed, per class.

Annotations are matched between the two versions by (image file name, class name, box
rounded to 0.01 px) as a multiset, so a moved box counts as one removed and one added, and
renumbered ids do not count as changes.
"""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dataprep.dataset import BOX_COLUMNS, Dataset
from dataprep.errors import InputError

_KEY = ["file_name", "name", *BOX_COLUMNS]


def _keyed(ds: Dataset) -> pd.DataFrame:
    anns = ds.annotations
    files = ds.images["file_name"].astype(object).reindex(anns["image_id"].to_numpy()).to_numpy()
    names = ds.categories["name"].astype(object).reindex(anns["category_id"].to_numpy())
    names = np.where(names.notna(), names.to_numpy(), [f"<id {i}>" for i in anns["category_id"].to_numpy()])
    frame = pd.DataFrame({"file_name": files, "name": names})
    boxes = np.round(anns[BOX_COLUMNS].to_numpy(dtype=np.float64), 2)
    for i, col in enumerate(BOX_COLUMNS):
        frame[col] = boxes[:, i]
    frame["nth"] = frame.groupby(_KEY, dropna=False, sort=False).cumcount()
    return frame


def diff_datasets(base: Dataset, head: Dataset, *, base_label: str = "base") -> dict[str, Any]:
    """Per-class change from `base` to `head`.

    Returns:
        ``{"base": base_label, "images_added", "images_removed", "classes": [{"name", "base",
        "head", "added", "removed"}, ...]}`` with classes sorted by name; only classes present
        in either version.
    """
    base_files = set(base.images["file_name"].astype(object))
    head_files = set(head.images["file_name"].astype(object))
    a, b = _keyed(base), _keyed(head)
    merged = a.merge(b, on=[*_KEY, "nth"], how="outer", indicator=True)
    removed = merged.loc[merged["_merge"] == "left_only", "name"].value_counts()
    added = merged.loc[merged["_merge"] == "right_only", "name"].value_counts()
    before, after = a["name"].value_counts(), b["name"].value_counts()
    names = sorted(
        set(base.categories["name"].astype(object))
        | set(head.categories["name"].astype(object))
        | set(before.index)
        | set(after.index)
    )
    classes = [
        {
            "name": str(n),
            "base": int(before.get(n, 0)),
            "head": int(after.get(n, 0)),
            "added": int(added.get(n, 0)),
            "removed": int(removed.get(n, 0)),
        }
        for n in names
    ]
    return {
        "base": base_label,
        "images_added": len(head_files - base_files),
        "images_removed": len(base_files - head_files),
        "classes": classes,
    }


def checkout_revision(path: str | Path, revision: str, dest: str | Path) -> Path:
    """Extract `path` as it was at git `revision` into `dest`; return where `path` lies there.

    Raises:
        InputError: `path` is not in a git work tree, or `revision` does not name a commit
            holding it.
    """
    p = Path(path).resolve()
    folder = p if p.is_dir() else p.parent
    top = _git(folder, "rev-parse", "--show-toplevel").strip()
    rel = p.relative_to(Path(top).resolve()).as_posix() or "."
    try:
        proc = subprocess.run(
            ["git", "-C", top, "archive", "--format=tar", revision, "--", rel],
            capture_output=True,
            check=False,
        )
    except OSError as err:
        raise InputError(p, f"cannot run git ({err})", hint="Install git, or pass a base folder to --diff") from None
    if proc.returncode:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InputError(
            p,
            f"git revision {revision!r} has no {rel!r} ({message[-1] if message else 'git archive failed'})",
            hint="Pass an existing commit, branch or tag, or a base folder",
        )
    out = Path(dest)
    tar_path = out / ".base.tar"
    tar_path.write_bytes(proc.stdout)
    with tarfile.open(tar_path) as tar:
        tar.extractall(out, filter="data")
    tar_path.unlink()
    return out / rel


def _git(cwd: Path, *args: str) -> str:
    try:
        proc = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, check=False)
    except OSError as err:
        raise InputError(cwd, f"cannot run git ({err})", hint="Install git, or pass a base folder to --diff") from None
    if proc.returncode:
        raise InputError(
            cwd,
            "not inside a git work tree, and the --diff base is not a folder",
            hint="Pass a base folder, or run inside the dataset's git repository",
        )
    return proc.stdout


def temporary_folder() -> tempfile.TemporaryDirectory[str]:
    """A temporary folder for a checked-out base revision (removed when closed)."""
    return tempfile.TemporaryDirectory(prefix="dataprep-diff-")
