"""Classification metrics against scikit-learn on random labels (with absent classes and ties)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataprep.metrics.classification import classification_metrics

sk = pytest.importorskip("sklearn.metrics")


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 6), st.integers(1, 40), st.integers(0, 2**31 - 1))
def test_matches_scikit_learn(n_classes: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, n_classes, n)
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, n_classes, n))
    scores = np.round(rng.random((n, n_classes)), 1)  # ties on purpose
    m = classification_metrics(y_true, y_pred, n_classes, scores=scores, top_k=(1, 2))
    labels = np.arange(n_classes)
    assert m.accuracy == pytest.approx(sk.accuracy_score(y_true, y_pred), abs=1e-12)
    p, r, f, s = sk.precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    np.testing.assert_allclose(m.precision, p, atol=1e-12)
    np.testing.assert_allclose(m.recall, r, atol=1e-12)
    np.testing.assert_allclose(m.f1, f, atol=1e-12)
    np.testing.assert_array_equal(m.support, s)
    for avg in ("macro", "weighted"):
        p, r, f, _ = sk.precision_recall_fscore_support(y_true, y_pred, average=avg, zero_division=0)
        got = getattr(m, avg)
        assert (got["precision"], got["recall"], got["f1"]) == pytest.approx((p, r, f), abs=1e-12)
    np.testing.assert_array_equal(m.confusion, sk.confusion_matrix(y_true, y_pred, labels=labels))
    np.testing.assert_allclose(
        m.confusion_normalized,
        np.nan_to_num(sk.confusion_matrix(y_true, y_pred, labels=labels, normalize="true")),
        atol=1e-12,
    )
    if n_classes > 2:
        assert m.top_k[2] == pytest.approx(sk.top_k_accuracy_score(y_true, scores, k=2, labels=labels), abs=1e-12)


def test_most_confused_pairs_largest_first() -> None:
    y_true = [0, 0, 0, 1, 1, 2, 2, 2]
    y_pred = [1, 1, 0, 0, 1, 0, 1, 1]
    m = classification_metrics(y_true, y_pred, 3)
    assert m.most_confused == [(0, 1, 2), (2, 1, 2), (1, 0, 1), (2, 0, 1)]
