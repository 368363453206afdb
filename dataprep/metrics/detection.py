"""Detection metrics on columnar arrays: COCO mAP (pycocotools' algorithm), VOC AP, best-F1, confusion, errors.

The names live in modules split by role and are re-exported here, the one import path callers use:

- `dataprep.metrics.coco_eval`: `Objects`, `coco_xywh`, `match`/`Matches`, `coco_evaluate`/`CocoEval`,
  `summarize`, `format_stats` (pycocotools' ``COCOeval``, number for number);
- `dataprep.metrics.voc`: per-class PR curves (`class_curves`), `best_f1`, `voc_ap`, `voc_evaluate`;
- `dataprep.metrics.confusion`: `confusion_matrix` with a background class;
- `dataprep.metrics.errors`: `error_breakdown` (TIDE-style error kinds and the AP each costs).

Nothing here imports torch.
"""

from __future__ import annotations

from dataprep.metrics.coco_eval import (
    AREA_RANGES,
    IOU_THRESHOLDS,
    MAX_DETS,
    RECALL_THRESHOLDS,
    STAT_NAMES,
    BoolArray,
    CocoEval,
    FloatArray,
    IntArray,
    Matches,
    Objects,
    coco_evaluate,
    coco_xywh,
    format_stats,
    match,
    summarize,
)
from dataprep.metrics.confusion import confusion_matrix
from dataprep.metrics.errors import ERROR_KINDS, ErrorBreakdown, error_breakdown
from dataprep.metrics.voc import BestF1, ClassCurves, VocResult, best_f1, class_curves, voc_ap, voc_evaluate

__all__ = [
    "AREA_RANGES",
    "ERROR_KINDS",
    "IOU_THRESHOLDS",
    "MAX_DETS",
    "RECALL_THRESHOLDS",
    "STAT_NAMES",
    "BestF1",
    "BoolArray",
    "ClassCurves",
    "CocoEval",
    "ErrorBreakdown",
    "FloatArray",
    "IntArray",
    "Matches",
    "Objects",
    "VocResult",
    "best_f1",
    "class_curves",
    "coco_evaluate",
    "coco_xywh",
    "confusion_matrix",
    "error_breakdown",
    "format_stats",
    "match",
    "summarize",
    "voc_ap",
    "voc_evaluate",
]
