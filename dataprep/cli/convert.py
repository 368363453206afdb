"""``dataprep convert`` (being written)."""

from __future__ import annotations


def command() -> None:
    """Convert a dataset (not yet available)."""
    raise SystemExit("convert is not available yet")
