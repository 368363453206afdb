"""PNG plots of evaluation results (matplotlib's Agg canvas, no pyplot state, no display needed).

Each ``plot_*`` reads numbers a result object already holds, writes one PNG and returns its path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

_DPI = 100
# drawing styles of the sample grid: ground truth matched / missed, predictions TP / FP
STYLES = {
    "matched": {"edgecolor": "#2ca02c", "linestyle": "-", "linewidth": 1.5},
    "missed": {"edgecolor": "#ff7f0e", "linestyle": "--", "linewidth": 2.0},
    "tp": {"edgecolor": "#1f77b4", "linestyle": "-", "linewidth": 1.0},
    "fp": {"edgecolor": "#d62728", "linestyle": ":", "linewidth": 1.5},
}


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    fig.savefig(path, format="png", dpi=_DPI, metadata={"Software": None})
    return path


def plot_confusion(matrix: pd.DataFrame, path: str | Path, *, title: str, normalize: bool = False) -> Path:
    """A confusion matrix heat map; ``normalize`` divides each column (true class) by its sum.

    `matrix` rows and columns are labelled; the axis names say which is true and which predicted.
    """
    values = matrix.to_numpy(dtype=np.float64)
    shown = values
    if normalize:
        axis = 0 if matrix.columns.name == "true" else 1
        sums = values.sum(axis=axis, keepdims=True)
        shown = np.divide(values, sums, out=np.zeros_like(values), where=sums > 0)
    n = len(matrix)
    size = min(max(4.0, 0.45 * n + 2.5), 24.0)
    fig = _figure(size, size * 0.9)
    ax = fig.add_subplot()
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=shown.max() or 1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    labels = [str(c) for c in matrix.columns]
    ax.set_xticks(range(n), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(n), [str(i) for i in matrix.index], fontsize=8)
    ax.set_xlabel(str(matrix.columns.name or ""))
    ax.set_ylabel(str(matrix.index.name or ""))
    ax.set_title(title)
    if n <= 30:
        for (i, j), v in np.ndenumerate(values):
            if v:
                text = f"{shown[i, j]:.2f}" if normalize else f"{int(v)}"
                dark = shown[i, j] > 0.6 * (shown.max() or 1)
                ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white" if dark else "black")
    fig.tight_layout()
    return _save(fig, path)


def plot_pr_curves(pr: pd.DataFrame, ap: pd.Series, path: str | Path, *, iou: float) -> Path:
    """Interpolated precision vs recall per class (`pr`: index recall, a column per class), AP in the legend."""
    fig = _figure(7, 5)
    ax = fig.add_subplot()
    recall = pr.index.to_numpy(dtype=np.float64)
    shown = [c for c in pr.columns if (pr[c] >= 0).all()]
    for c in shown[:20]:
        ax.plot(recall, pr[c].to_numpy(), linewidth=1, label=f"{c} {ap.get(c, np.nan):.3f}")
    if shown:
        mean = pr[shown].mean(axis=1).to_numpy()
        ax.plot(recall, mean, color="black", linewidth=2.5, label=f"all classes {float(mean.mean()):.3f}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(
        f"Precision-recall at IoU {iou:g}" + (f" (first 20 of {len(shown)} classes)" if len(shown) > 20 else "")
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return _save(fig, path)


def plot_class_bars(values: pd.Series, path: str | Path, *, title: str, xlabel: str) -> Path:
    """Horizontal bars, one per class (undefined values, < 0, left out)."""
    values = values[values >= 0].sort_values()
    fig = _figure(7, min(max(2.5, 0.25 * len(values) + 1.2), 30))
    ax = fig.add_subplot()
    ax.barh([str(i) for i in values.index], values.to_numpy(), color="#1f77b4")
    ax.set_xlim(0, 1)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def plot_iou_histogram(ious: npt.ArrayLike, path: str | Path, *, iou: float) -> Path:
    """Histogram of the IoU of matched (true-positive) pairs, 20 bins over [0, 1]."""
    ious = np.asarray(ious, dtype=np.float64)
    fig = _figure(6, 3.5)
    ax = fig.add_subplot()
    ax.hist(ious, bins=20, range=(0, 1), color="#2ca02c", edgecolor="white")
    ax.axvline(iou, color="black", linestyle="--", linewidth=1)
    ax.set_xlabel("IoU")
    ax.set_ylabel("true positives")
    median = f", median {np.median(ious):.3f}" if len(ious) else ""
    ax.set_title(f"IoU of matched pairs at threshold {iou:g} ({len(ious)} pairs{median})")
    fig.tight_layout()
    return _save(fig, path)


def plot_errors(errors: pd.DataFrame, path: str | Path) -> Path:
    """Counts and the AP each error kind costs (``delta_ap``), side by side."""
    fig = _figure(9, 3.5)
    ax1, ax2 = fig.subplots(1, 2)
    kinds = [str(k) for k in errors.index]
    ax1.barh(kinds, errors["count"].to_numpy(), color="#d62728")
    ax1.set_title("errors (count)")
    ax2.barh(kinds, errors["delta_ap"].to_numpy(), color="#9467bd")
    ax2.set_title("AP gained if fixed")
    for ax in (ax1, ax2):
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def plot_samples(
    images: list[tuple[str, Any, pd.DataFrame, pd.DataFrame]], path: str | Path, *, columns: int = 4
) -> Path:
    """A grid of images with boxes drawn in the `STYLES` of their status.

    Args:
        images: ``(title, pixels, ground_truth, predictions)`` per cell: pixels an ``(H, W[, C])``
            array; frames with ``x_min, y_min, x_max, y_max``, ``status`` and ``label`` columns.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    rows = max(1, -(-len(images) // columns))
    fig = _figure(3.2 * columns, 3.0 * rows + 0.6)
    axes = np.atleast_1d(fig.subplots(rows, columns)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, (title, pixels, gt, pred) in zip(axes, images, strict=False):
        ax.imshow(pixels, cmap="gray" if np.ndim(pixels) == 2 else None)
        for frame in (gt, pred):
            for r in frame.itertuples(index=False):
                style = STYLES.get(r.status)
                if style is None:
                    continue
                ax.add_patch(Rectangle((r.x_min, r.y_min), r.x_max - r.x_min, r.y_max - r.y_min, fill=False, **style))
                if r.label:
                    ax.text(r.x_min, r.y_min, r.label, fontsize=6, color=style["edgecolor"], va="bottom")
        ax.set_title(title, fontsize=8)
    handles = [Line2D([0], [0], color=s["edgecolor"], linestyle=s["linestyle"], linewidth=2) for s in STYLES.values()]
    names = ["ground truth found", "ground truth missed", "true positive", "false positive"]
    fig.legend(handles, names, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return _save(fig, path)
