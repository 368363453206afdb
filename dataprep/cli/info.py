"""``dataprep info`` (being written)."""

from __future__ import annotations


def command() -> None:
    """Summarize a dataset (not yet available)."""
    raise SystemExit("info is not available yet")
