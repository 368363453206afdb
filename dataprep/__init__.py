"""dataprep: computer-vision datasets from raw annotations to a trained, evaluated model.

The public API is re-exported here and loaded lazily, so ``import dataprep`` (and the CLI)
stay fast: nothing heavy is imported until it is used.

``read`` returns the `Dataset` alone; ``load`` returns the whole `ReadResult`: the dataset
plus the findings met (``on_error="collect"``), the notes on what the reader guessed, and,
with ``provenance=True``, where each row came from.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "Dataset": "dataprep.dataset",
    "read": "dataprep.formats",
    "load": "dataprep.formats",
    "write": "dataprep.formats",
    "convert": "dataprep.formats",
    "detect": "dataprep.formats",
    "summarize": "dataprep.summary",
    "validate": "dataprep.validation",
    "split": "dataprep.splits",
    "augment": "dataprep.augmentation",
    "encode": "dataprep.encoding",
    "decode": "dataprep.encoding",
    "encode_dataset": "dataprep.encoding",
    "kmeans_anchors": "dataprep.encoding",
    "evaluate": "dataprep.evaluation",
    "train": "dataprep.training",
    "predict": "dataprep.prediction",
}
__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from dataprep.augmentation import augment
    from dataprep.dataset import Dataset
    from dataprep.evaluation import evaluate
    from dataprep.formats import convert, detect, load, read, write
    from dataprep.prediction import predict
    from dataprep.splits import split
    from dataprep.summary import summarize
    from dataprep.training import train
    from dataprep.validation import validate


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dataprep' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
