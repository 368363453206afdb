"""YOLOv1 grid assignment: the cell holding a box's centre is responsible for it.

Spec rule 1 (``shared/specs/yolo-targets.md``): ``gx = cx / stride``, ``col = min(floor(gx), S - 1)``;
a centre on a border belongs to the right/lower cell with offset 0, a centre on the far image
border to the last cell with offset 1.0 (darknet would index out of bounds there).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from dataprep.encoding.layout import Layout

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def assign_grid(cxcywh: FloatArray, layout: Layout) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """One candidate slot per box: ``(box, anchor, row, col)``, ``(N,)`` int64 each.

    ``anchor`` is 0: which of the B predictors learns a box is decided by the loss (best IoU
    with the predictions), not by the encoder.

    Args:
        cxcywh: ``(N, 4)`` centre x, centre y, w, h in network pixels.
    """
    n = len(cxcywh)
    stride = float(layout.strides[0])
    last = layout.grid_sizes[0] - 1
    col = np.minimum(np.floor(cxcywh[:, 0] / stride).astype(np.int64), last)
    row = np.minimum(np.floor(cxcywh[:, 1] / stride).astype(np.int64), last)
    return np.arange(n, dtype=np.int64), np.zeros(n, dtype=np.int64), row, col
