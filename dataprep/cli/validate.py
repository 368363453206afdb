"""``dataprep validate`` (placeholder until the validation module lands)."""

from __future__ import annotations


def command() -> None:
    """Validate a dataset (not yet available)."""
    raise SystemExit("validate is not available yet")
