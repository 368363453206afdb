"""Pausing the cyclic garbage collector around bulk object building."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a reader or writer builds ~10^5-10^6 objects.

    Every 700 new containers trigger a collection that walks the young ones, and every tenth
    of those the older ones too: measured, it makes parsing a 29 MB COCO file 2.3x slower
    (410 ms vs 175 ms) and 10,000 small LabelMe files 3.9x slower (157 ms vs 40 ms). Parsed
    documents and tables form no reference cycles, so nothing is left for the collector; a
    cycle made meanwhile is collected once it runs again. Nested uses are fine.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
