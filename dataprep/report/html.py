"""``write_report(result, dir)``: PNG plots, ``result.json`` and one self-contained ``index.html``.

The page embeds every plot as a ``data:`` URI and uses no script and no network: it can be
mailed or attached to a CI run as one file. Everything shown is read from the result object.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from dataprep.files import atomic_output_dir
from dataprep.report import plots

if TYPE_CHECKING:
    from dataprep.evaluation import ClassificationResult, DetectionResult

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 2px 8px; text-align: right; }
th { background: #f4f4f4; } td.text, th.text { text-align: left; }
figure { margin: 1em 0; } img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; } .note { color: #555; font-size: 0.9em; }
"""

SAMPLE_COUNT = 8


def write_report(
    result: DetectionResult | ClassificationResult, out_dir: str | Path, *, overwrite: bool = False
) -> Path:
    """Write the plots, ``result.json`` and ``index.html`` for `result` into `out_dir`, atomically.

    Raises:
        OutputError: `out_dir` exists and `overwrite` is false.
    """
    out = Path(out_dir)
    with atomic_output_dir(out, overwrite=overwrite) as tmp:
        if result.task == "detection":
            figures, notes = _detection_plots(result, tmp)  # type: ignore[arg-type]
            body = _detection_body(result, figures)  # type: ignore[arg-type]
        else:
            figures, notes = _classification_plots(result, tmp)  # type: ignore[arg-type]
            body = _classification_body(result, figures)  # type: ignore[arg-type]
        data = result.to_dict()
        (tmp / "result.json").write_text(json.dumps(data, indent=2, sort_keys=True, default=_jsonable) + "\n")
        page = _page(f"dataprep evaluate: {result.task}", body, [*result.notes, *notes], result.findings)
        (tmp / "index.html").write_text(page, encoding="utf-8")
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


# ---------------------------------------------------------------------------------------
# plots


def _detection_plots(r: DetectionResult, out: Path) -> tuple[list[tuple[str, Path, str]], list[str]]:
    names = r.per_class["name"]
    figs = [
        (
            "Confusion matrix",
            plots.plot_confusion(
                r.confusion, out / "confusion.png", title="Detection confusion (columns: true)", normalize=False
            ),
            "Ultralytics' definition: class-agnostic matching per image, background row = missed objects, "
            "background column = false positives.",
        ),
        (
            "Precision-recall curves",
            plots.plot_pr_curves(
                r.pr_curves, pd.Series(r.per_class["AP_iou"].to_numpy(), index=names), out / "pr_curves.png", iou=r.iou
            ),
            f"COCO-interpolated precision at IoU {r.iou:g}; AP per class in the legend.",
        ),
        (
            "AP per class",
            plots.plot_class_bars(
                pd.Series(r.per_class["AP"].to_numpy(), index=names),
                out / "class_ap.png",
                title="COCO AP@[.50:.95] per class",
                xlabel="AP",
            ),
            "Classes without ground truth are left out.",
        ),
        (
            "IoU of matched pairs",
            plots.plot_iou_histogram(r.matched_iou, out / "iou_histogram.png", iou=r.iou),
            "True positives only; the dashed line is the matching threshold.",
        ),
        ("Errors", plots.plot_errors(r.errors, out / "errors.png"), "Error kinds after TIDE (Bolya et al. 2020)."),
    ]
    notes = []
    cells = _sample_cells(r)
    if cells:
        conf = r.best_f1["confidence"]
        figs.append(
            (
                "Samples",
                plots.plot_samples(cells, out / "samples.png"),
                f"Images with the most errors first. Green: ground truth found; orange dashed: missed; blue: true "
                f"positive; red dotted: false positive (predictions with score >= {conf:.3g}, the best-F1 threshold).",
            )
        )
    else:
        notes.append("sample grid left out: no image file could be opened")
    return figs, notes


def _sample_cells(r: DetectionResult) -> list[tuple[str, Any, pd.DataFrame, pd.DataFrame]]:
    """Up to `SAMPLE_COUNT` images, most false positives + misses first (ties: image id)."""
    from PIL import Image

    if r.gt is None or r.predictions is None or r.gt_status is None or r.prediction_status is None:
        return []
    gt, pred = r.gt.annotations, r.predictions.annotations
    conf = r.best_f1["confidence"]
    conf = -np.inf if not np.isfinite(conf) else conf
    pred = pred.assign(status=r.prediction_status.reindex(pred.index).to_numpy())
    pred = pred[(pred["score"] >= conf) & pred["status"].isin(["tp", "fp"])]
    gt = gt.assign(status=r.gt_status.reindex(gt.index).to_numpy())
    names = r.gt.categories["name"].astype(str)
    bad = pd.concat([pred.loc[pred["status"] == "fp", "image_id"], gt.loc[gt["status"] == "missed", "image_id"]])
    counts = bad.value_counts().reindex(r.gt.images.index, fill_value=0)
    order = sorted(r.gt.images.index.tolist(), key=lambda i: (-int(counts[i]), i))
    cells = []
    for image_id in order[: 25 * SAMPLE_COUNT]:  # images may be missing: try a bounded number
        if len(cells) >= SAMPLE_COUNT:
            break
        path = r.gt.resolve(str(r.gt.images.at[image_id, "file_name"]))
        try:
            with Image.open(path) as im:
                pixels = np.asarray(im.convert("RGB"))
        except (OSError, ValueError):
            continue
        g = gt[gt["image_id"] == image_id].assign(label="")
        p = pred[pred["image_id"] == image_id]
        p = p.assign(label=[f"{names.get(c, c)} {s:.2f}" for c, s in zip(p["category_id"], p["score"], strict=True)])
        cells.append((f"{Path(path).name} ({int(counts[image_id])} errors)", pixels, g, p))
    return cells


def _classification_plots(r: ClassificationResult, out: Path) -> tuple[list[tuple[str, Path, str]], list[str]]:
    names = r.per_class["name"]
    figs = [
        (
            "Confusion matrix",
            plots.plot_confusion(r.confusion, out / "confusion.png", title="Confusion (counts)"),
            "Rows: true class; columns: predicted class.",
        ),
        (
            "Confusion matrix, row-normalized",
            plots.plot_confusion(
                r.confusion_normalized, out / "confusion_normalized.png", title="Confusion (each true class sums to 1)"
            ),
            "Each row divided by the number of images of its true class (the diagonal is recall).",
        ),
        (
            "F1 per class",
            plots.plot_class_bars(
                pd.Series(r.per_class["f1"].to_numpy(), index=names),
                out / "class_f1.png",
                title="F1 per class",
                xlabel="F1",
            ),
            "",
        ),
    ]
    return figs, []


# ---------------------------------------------------------------------------------------
# html


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else f"{value:.4f}"
    return _esc(value)


def _table(frame: pd.DataFrame, *, index: bool = True) -> str:
    df = frame.reset_index() if index else frame
    head = "".join(
        f'<th class="{"num" if pd.api.types.is_numeric_dtype(df[c]) else "text"}">{_esc(c)}</th>' for c in df.columns
    )
    rows = []
    for rec in df.itertuples(index=False):
        cells = "".join(f'<td class="{"text" if isinstance(v, str) else "num"}">{_fmt(v)}</td>' for v in rec)
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _figure_html(title: str, path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{_esc(title)}" src="data:image/png;base64,{data}">'
        f'<figcaption>{_esc(title)}. {_esc(caption)} <a href="{_esc(path.name)}">{_esc(path.name)}</a>'
        "</figcaption></figure>"
    )


def _detection_body(r: DetectionResult, figures: list[tuple[str, Path, str]]) -> str:
    stats = pd.DataFrame({"value": r.stats_list}, index=pd.Index(list(r.stats), name="stat"))
    summary = pd.DataFrame(
        {
            "value": [
                r.voc["mAP"],
                r.voc["mAP07"],
                r.best_f1["f1"],
                r.best_f1["precision"],
                r.best_f1["recall"],
                r.best_f1["confidence"],
            ]
        },
        index=pd.Index(
            [
                f"VOC mAP@{r.iou:g} (all-point)",
                f"VOC mAP@{r.iou:g} (11-point)",
                "best F1",
                "precision at best F1",
                "recall at best F1",
                "confidence at best F1",
            ],
            name="metric",
        ),
    )
    counts = ", ".join(f"{k}: {v}" for k, v in r.counts.items())
    matched = ", ".join(f"{k} by {v}" for k, v in r.matched_by.items())
    parts = [
        f'<p class="note">IoU type {_esc(r.iou_type)}; {_esc(counts)}; matched {_esc(matched)}.</p>',
        "<h2>COCO stats</h2>",
        f"<pre>{_esc(str(r))}</pre>",
        _table(stats),
        _table(summary),
        "<h2>Per class</h2>",
        _table(r.per_class),
        "<h2>Errors</h2>",
        _table(r.errors),
        "<h2>Confusion</h2>",
        _table(r.confusion),
        "<h2>Plots</h2>",
        *(_figure_html(*f) for f in figures),
    ]
    return "\n".join(parts)


def _classification_body(r: ClassificationResult, figures: list[tuple[str, Path, str]]) -> str:
    overall = {"accuracy": r.accuracy, **r.top_k}
    overall.update({f"macro {k}": v for k, v in r.macro.items()})
    overall.update({f"weighted {k}": v for k, v in r.weighted.items()})
    summary = pd.DataFrame({"value": list(overall.values())}, index=pd.Index(list(overall), name="metric"))
    confused = pd.DataFrame(r.most_confused, columns=["true", "predicted", "count"])
    counts = ", ".join(f"{k}: {v}" for k, v in r.counts.items())
    parts = [
        f'<p class="note">{_esc(counts)}</p>',
        "<h2>Summary</h2>",
        _table(summary),
        "<h2>Per class</h2>",
        _table(r.per_class),
        "<h2>Most confused pairs</h2>",
        _table(confused, index=False),
        "<h2>Confusion</h2>",
        _table(r.confusion),
        "<h2>Plots</h2>",
        *(_figure_html(*f) for f in figures),
    ]
    return "\n".join(parts)


def _page(title: str, body: str, notes: list[str], findings: list[Any]) -> str:
    found = ""
    if findings:
        items = "".join(
            f"<li><b>{_esc(f.code)}</b> ({_esc(f.severity)}): {_esc(f.message)}"
            + (f" — {_esc(f.hint)}" if f.hint else "")
            + "</li>"
            for f in findings
        )
        found = f"<h2>Findings</h2><ul>{items}</ul>"
    note_html = "".join(f"<li>{_esc(n)}</li>" for n in notes)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>\n'
        f"<body><h1>{_esc(title)}</h1>\n{body}\n{found}\n"
        f'<h2>Notes</h2><ul class="note">{note_html}</ul></body></html>\n'
    )
