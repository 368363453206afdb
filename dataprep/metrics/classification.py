"""Classification metrics on integer class indices (numpy only; definitions as scikit-learn's).

Classes are indices ``0..C-1``. Precision, recall and F1 of a class with no prediction (or no
true sample) are 0, as scikit-learn's ``zero_division=0`` gives. Macro and weighted averages run
over the classes present in the truth or the predictions, like scikit-learn's default ``labels``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass
class ClassificationMetrics:
    """Everything `classification_metrics` computes.

    Attributes:
        accuracy: fraction of samples whose prediction is the true class.
        top_k: k -> fraction whose true class is among the k highest scores (needs scores).
        precision, recall, f1: ``(C,)`` per class.
        support: ``(C,)`` true samples per class.
        predicted: ``(C,)`` predictions per class.
        macro, weighted: ``{"precision", "recall", "f1"}`` averages (weighted by support).
        confusion: ``(C, C)`` int64 counts, rows true class, columns predicted.
        confusion_normalized: rows divided by their sum (0 rows stay 0).
        most_confused: ``(true, predicted, count)`` off-diagonal cells, largest first.
    """

    accuracy: float
    top_k: dict[int, float]
    precision: FloatArray
    recall: FloatArray
    f1: FloatArray
    support: IntArray
    predicted: IntArray
    macro: dict[str, float]
    weighted: dict[str, float]
    confusion: IntArray
    confusion_normalized: FloatArray
    most_confused: list[tuple[int, int, int]]


def confusion(y_true: IntArray, y_pred: IntArray, n_classes: int) -> IntArray:
    """``(C, C)`` counts: rows true class, columns predicted class."""
    flat = np.bincount(np.asarray(y_true) * n_classes + np.asarray(y_pred), minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes).astype(np.int64)


def top_k_accuracy(y_true: IntArray, scores: FloatArray, k: int) -> float:
    """Fraction of rows whose true class is among the `k` highest of ``scores`` ``(N, C)``.

    Ties are ranked as scikit-learn's ``top_k_accuracy_score`` ranks them: among equal scores
    the higher class index comes first.
    """
    scores = np.asarray(scores, dtype=np.float64)
    true_score = scores[np.arange(len(y_true)), y_true]
    later = np.arange(scores.shape[1])[None, :] > np.asarray(y_true)[:, None]
    higher = ((scores > true_score[:, None]) | ((scores == true_score[:, None]) & later)).sum(axis=1)
    return float(np.mean(higher < k)) if len(y_true) else float("nan")


def classification_metrics(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    n_classes: int,
    *,
    scores: npt.ArrayLike | None = None,
    top_k: tuple[int, ...] = (1, 5),
    n_confused: int = 10,
) -> ClassificationMetrics:
    """Accuracy, top-k, per-class and averaged precision/recall/F1, confusion matrices.

    Args:
        y_true, y_pred: ``(N,)`` class indices in ``0..n_classes-1``.
        scores: optional ``(N, n_classes)`` class scores for top-k (k >= n_classes is skipped).
    """
    t = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(y_pred, dtype=np.int64)
    cm = confusion(t, p, n_classes)
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    precision = np.divide(tp, predicted, out=np.zeros(n_classes), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros(n_classes), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros(n_classes), where=denom > 0)
    present = (support > 0) | (predicted > 0)
    total = support[present].sum()

    def avg(values: FloatArray) -> tuple[float, float]:
        if not present.any():
            return 0.0, 0.0
        weighted = float(np.average(values[present], weights=support[present])) if total else 0.0
        return float(values[present].mean()), weighted

    macro, weighted = {}, {}
    for name, values in (("precision", precision), ("recall", recall), ("f1", f1)):
        macro[name], weighted[name] = avg(values)
    rows = cm.sum(axis=1, keepdims=True).astype(float)
    normalized = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
    off = cm.copy()
    np.fill_diagonal(off, 0)
    flat = np.argsort(-off, axis=None, kind="stable")[:n_confused]
    pairs = [(int(i // n_classes), int(i % n_classes), int(off.flat[i])) for i in flat if off.flat[i] > 0]
    top = {}
    if scores is not None:
        s = np.asarray(scores, dtype=np.float64)
        top = {k: top_k_accuracy(t, s, k) for k in top_k if k < n_classes or k == 1}
    accuracy = float(np.mean(t == p)) if len(t) else float("nan")
    return ClassificationMetrics(
        accuracy, top, precision, recall, f1, support, predicted, macro, weighted, cm, normalized, pairs
    )
