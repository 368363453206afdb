"""Writing ``labels.csv`` and the image copies: `plan` and `write`, both built on one ``_prepare``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dataprep.dataset import Dataset
from dataprep.files import member_paths
from dataprep.formats._classification import dedupe_paths, id_change_loss, label_table, renamed_loss, sanitize_names
from dataprep.formats.base import MAX_EXAMPLES, Capabilities, Loss, WriteReport, place_images, plan_losses
from dataprep.formats.labels_csv.layout import CSV_NAME, IMAGES_DIR, NAME
from dataprep.formats.labels_csv.parse import LABEL_SEPARATOR, order_names

CAPABILITIES = Capabilities(boxes=False, image_level_labels=True, splits=True)


def plan(ds: Dataset, **options: Any) -> list[Loss]:
    """What writing `ds` as a labels csv would drop or change (generic + format-specific)."""
    generic = plan_losses(ds, CAPABILITIES, format_name=NAME)
    # split names are csv text here, not file names: any name is kept as it is
    return [loss for loss in generic if loss.code != "split-renamed"] + _prepare(ds)[3]


def write(ds: Dataset, out_dir: Path, *, images: str = "copy") -> WriteReport:
    """Write ``labels.csv`` and copy the images to ``images/`` under `out_dir`.

    Raises:
        OutputError: a file name would escape `out_dir`.
    """
    out_dir = Path(out_dir)
    rows, copies, _, _ = _prepare(ds)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows.to_csv(out_dir / CSV_NAME, index=False, lineterminator="\n", encoding="utf-8")
    dests = member_paths(out_dir, copies["out"].tolist()) if images != "none" else []
    placed, missing = place_images(ds, dests, images)
    return WriteReport(
        format=NAME,
        path=str(out_dir),
        images=len(copies),
        annotations=int((rows["label"] != "").sum()),
        categories=int(rows["label"][rows["label"] != ""].nunique()),
        images_transferred=placed,
        images_missing=missing,
        options={"label_rows": "one row per label"},
    )


def _prepare(ds: Dataset) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, list[Loss]]:
    """Rows to write, image copies (image_id -> out path), label text per category, format losses."""
    labels, losses = label_table(ds)
    label_text, label_losses = _label_texts(ds.categories, labels)
    losses += label_losses
    images = ds.images
    out = IMAGES_DIR + "/" + _strip_common_dir(images["file_name"].astype(object).str.replace("\\", "/", regex=False))
    out, renamed = dedupe_paths(out)
    if renamed:
        losses.append(
            Loss(
                "file-renamed",
                f"{len(renamed)} image(s) share a file name with another: written as <name>_<image_id><suffix>",
                len(renamed),
                renamed[:MAX_EXAMPLES],
                unit="image",
            )
        )
    has_split = images["split"].notna().any()
    split = images["split"].astype(object).where(images["split"].notna(), "")
    rows = pd.DataFrame(
        {
            "file_name": out.reindex(labels["image_id"].to_numpy()).to_numpy(dtype=object),
            "label": label_text.reindex(labels["category_id"].to_numpy()).to_numpy(dtype=object),
            "split": split.reindex(labels["image_id"].to_numpy()).to_numpy(dtype=object),
        }
    )
    bare = images.index[~images.index.isin(labels["image_id"].unique())]
    empty_rows = pd.DataFrame(
        {"file_name": out[bare].to_numpy(dtype=object), "label": "", "split": split[bare].to_numpy(dtype=object)}
    )
    rows = pd.concat([rows, empty_rows], ignore_index=True).sort_values(
        ["file_name", "label"], kind="stable", ignore_index=True
    )
    if not has_split:
        rows = rows.drop(columns="split")
    return rows, pd.DataFrame({"out": out}, index=images.index), label_text, losses


def _label_texts(cats: pd.DataFrame, labels: pd.DataFrame) -> tuple[pd.Series, list[Loss]]:
    """Label text per category_id, and the renamed / unused / id-changed losses."""
    losses: list[Loss] = []
    label_text = sanitize_names(
        cats["name"], forbidden=re.compile(re.escape(LABEL_SEPARATOR) + r"|[\x00-\x1f]"), path_component=False
    )
    used = np.unique(labels["category_id"].to_numpy())
    in_use = cats.index.isin(used)
    loss = renamed_loss(cats["name"][in_use], label_text[in_use], what="label", format_name=NAME)
    if loss:
        losses.append(loss)
    unused = cats.index[~cats.index.isin(used)]
    if len(unused):
        losses.append(
            Loss(
                "category-dropped",
                f"{NAME} lists labels only: {len(unused)} categor{'y' if len(unused) == 1 else 'ies'} without any "
                f"label dropped ({', '.join(map(repr, cats['name'][unused][:3]))})",
                len(unused),
                [int(i) for i in unused[:MAX_EXAMPLES]],
                unit="category",
            )
        )
    kept = cats.loc[cats.index.isin(used)]
    rank = {name: k for k, name in enumerate(order_names(label_text[kept.index].tolist()))}
    order = sorted(kept.index.tolist(), key=lambda i: rank[label_text[i]])
    loss = id_change_loss(cats, order, format_name=NAME)
    if loss:
        losses.append(loss)
    return label_text, losses


def _strip_common_dir(names: pd.Series) -> pd.Series:
    """File names without the longest directory prefix they all share."""
    dirs = names.str.rpartition("/")[0].unique().tolist()
    if not dirs or "" in dirs:
        return names
    parts = [d.split("/") for d in dirs]
    common: list[str] = []
    for segs in zip(*parts, strict=False):
        if any(s != segs[0] for s in segs):
            break
        common.append(segs[0])
    return names.str.slice(len("/".join(common)) + 1) if common else names
