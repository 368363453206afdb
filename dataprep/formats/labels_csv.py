"""Placeholder: the labels_csv format is being written."""

from __future__ import annotations

from pathlib import Path

from dataprep.formats.base import Capabilities, FormatSpec


def detect(path: Path) -> float | None:
    """Not implemented yet."""
    return None


def read(path: Path, **options: object):  # noqa: ANN201
    """Not implemented yet."""
    raise NotImplementedError("labels_csv reader")


def write(ds: object, out_dir: Path, **options: object):  # noqa: ANN201
    """Not implemented yet."""
    raise NotImplementedError("labels_csv writer")


FORMAT = FormatSpec("labels_csv", "labels_csv (placeholder)", Capabilities(), detect, read, write)
