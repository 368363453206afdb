"""Chunked JSON: parse a large document's big arrays a few thousand records at a time.

A COCO file is one object holding a few huge arrays (``images``, ``annotations``). Parsing it
whole builds every record before the first is used, so peak memory is many times the file.
Here the brackets outside strings are indexed once with numpy (block by block, so the index's
temporaries stay small), the document is parsed without its big arrays, and each array is cut
into slices of `ChunkSizes.records` records that orjson parses only when iterated.

Everything below reads its input through slicing, ``find``, ``re`` and ``np.frombuffer``, so
it works the same on ``bytes`` and on a read-only ``mmap`` of the file (`read_document` maps
files past a size). For a mapped file, the pages already read are released as the work advances
(`drop_pages`: behind the bracket index's blocks, then behind each parsed slice), so the file
never counts whole in the process's memory. Used by the COCO reader (`load`) and the Label
Studio reader (`array_reader`, iterated twice).
"""

from __future__ import annotations

import mmap
import os
import re
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from dataprep.errors import InputError

__all__ = [
    "DEFAULT_SIZES",
    "BracketIndex",
    "ChunkSizes",
    "Document",
    "array_chunks",
    "array_reader",
    "bracket_index",
    "drop_pages",
    "load",
    "loads_whole",
    "note_python_json",
    "read_document",
    "split_array",
    "split_object",
]

BOM = b"\xef\xbb\xbf"

# Bracket kinds in the index: 3-6 for { [ } ] (0 for every other byte).
OPEN_OBJECT, OPEN_ARRAY, CLOSE_OBJECT, CLOSE_ARRAY = 3, 4, 5, 6
_BRACKET_KIND = np.zeros(256, np.uint8)
_BRACKET_KIND[[ord("{"), ord("["), ord("}"), ord("]")]] = [OPEN_OBJECT, OPEN_ARRAY, CLOSE_OBJECT, CLOSE_ARRAY]
_KEY_BEFORE_RE = re.compile(rb'"([A-Za-z_]+)"\s*:\s*$')
_KEY_LOOKBEHIND = 64  # bytes before an array's "[" searched for its key


@dataclass(frozen=True)
class ChunkSizes:
    """When a document is parsed in pieces, and how big the pieces are.

    Attributes:
        min_bytes: documents of at least this many bytes are parsed chunk by chunk; smaller
            ones are parsed whole (one orjson call is fastest when memory is no concern).
        records: records per parsed slice of an array.
        scan_block: bytes per numpy block of the bracket index; its temporaries are a few
            bytes per byte of the block.
    """

    min_bytes: int = 1 << 20
    records: int = 16384
    scan_block: int = 1 << 22

    def __post_init__(self) -> None:
        if self.min_bytes < 0 or self.records < 1 or self.scan_block < 1:
            raise ValueError(f"chunk sizes must be positive, got {self}")


DEFAULT_SIZES = ChunkSizes()


@dataclass
class Document:
    """A parsed JSON document whose big arrays are parsed lazily.

    Attributes:
        head: the top-level value with each array named in `arrays` replaced by ``[]`` (a
            top-level array is ``[]`` itself).
        arrays: per top-level key (``""`` for a top-level array), an iterator over its records
            in lists of at most `ChunkSizes.records`; each list is parsed when it is reached.
    """

    head: Any
    arrays: dict[str, Iterator[list[Any]]] = field(default_factory=dict)

    @classmethod
    def from_value(cls, value: Any, keys: tuple[str, ...]) -> Document:
        """Wrap an already parsed document: its arrays under `keys` become single chunks."""
        if isinstance(value, list):
            return cls([], {"": iter([value])})
        arrays: dict[str, Iterator[list[Any]]] = {}
        if isinstance(value, dict):
            for key in keys:
                array = value.get(key)
                if isinstance(array, list):
                    value[key] = []
                    arrays[key] = iter([array])
        return cls(value, arrays)


@dataclass(frozen=True)
class BracketIndex:
    """The brackets of a document outside strings, in file order.

    Attributes:
        positions: ``(M,)`` int64 byte offsets.
        kinds: ``(M,)`` uint8, `OPEN_OBJECT`, `OPEN_ARRAY`, `CLOSE_OBJECT` or `CLOSE_ARRAY`.
        depth: ``(M,)`` int32 nesting depth after each bracket (1 after the top-level opener).
    """

    positions: npt.NDArray[np.int64]
    kinds: npt.NDArray[np.uint8]
    depth: npt.NDArray[np.int32]


def read_document(path: Path, *, map_from: int | None = None) -> bytes | mmap.mmap:
    """The bytes of a JSON file, without a UTF-8 byte-order mark.

    The first non-space byte is checked before the rest is read: a 2 GB file of NUL bytes is
    refused at once instead of after reading it whole (issue 7, item 5). FIFOs and devices are
    refused before they are opened (opening a FIFO waits for a writer). A file of at least
    `map_from` bytes (without a BOM) is memory-mapped instead of read: `load` parses it chunk by
    chunk, so its pages are read as the parse reaches them and the whole file is never copied
    into memory.

    Raises:
        InputError: not a regular file, unreadable, only white space, or not starting like JSON.
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise InputError(path, "not a regular file (a device, FIFO or socket)", hint="Pass a .json file")
        with open(path, "rb") as f:
            first = f.read(_HEAD)
            head = first.removeprefix(BOM)
            start = head.lstrip()
            while not start and len(head):  # white space so far: read on, a block at a time
                head = f.read(_HEAD)
                start = head.lstrip()
            if start and start[:1] not in b"{[":
                raise InputError(
                    path,
                    f"not JSON: the first non-space byte is {start[:1]!r}",
                    hint="Pass a COCO .json file (this one may be binary, compressed or truncated)",
                )
            size = os.fstat(f.fileno()).st_size
            if map_from is not None and size >= max(map_from, 1) and not first.startswith(BOM):
                return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            data = head + f.read()  # the leading white space kept: line numbers stay right
    except OSError as err:
        raise InputError(
            path, f"cannot read the file ({err.strerror or err})", hint="Check the path and permissions"
        ) from None
    if not data.strip():
        raise InputError(path, "the file is empty", hint="Re-export the annotations")
    return data


_HEAD = 1 << 16  # bytes read to find the first non-space byte
_JSON_SPACE = b" \t\n\r"  # JSON's white space (Python's also has form feed and vertical tab)

WholeLoader = Callable[[Any, Path, list[str]], Any]
"""Parses a whole document (``bytes`` or ``mmap``) given its path and notes (`loads_whole`), raising its error."""


def loads_whole(buf: bytes, path: Path, notes: list[str]) -> Any:
    """Parse a whole document; stdlib json takes over for NaN/Infinity, which orjson rejects.

    Raises:
        InputError: not JSON, with the parser's line and column.
    """
    import orjson

    if not isinstance(buf, bytes):  # a mapped file the bracket index could not cut: parsed whole
        buf = bytes(buf)
    try:
        return orjson.loads(buf)
    except orjson.JSONDecodeError:
        pass
    import json

    try:
        doc = json.loads(buf)
    except json.JSONDecodeError as err:
        raise InputError(
            path,
            f"invalid JSON: {err.msg} (line {err.lineno}, column {err.colno})",
            line=err.lineno,
            hint="The file is truncated or not JSON; re-export it",
        ) from None
    except UnicodeDecodeError as err:
        raise InputError(
            path, f"not UTF-8 text ({err.reason} at byte {err.start})", hint="Save the file as UTF-8"
        ) from None
    notes.append(
        f"{path.name}: not strict UTF-8 JSON (NaN/Infinity literals or another encoding); read with Python's json"
    )
    return doc


def load(
    buf: bytes, path: Path, notes: list[str], *, keys: tuple[str, ...] = (), sizes: ChunkSizes = DEFAULT_SIZES
) -> Document:
    """Parse a document, its top-level arrays under `keys` (or a top-level array) in chunks.

    Documents under ``sizes.min_bytes``, and any the bracket index cannot cut plainly, are
    parsed whole (then an error carries the parser's line and column).

    Args:
        buf: the document (``bytes`` or a read-only ``mmap``), without a byte-order mark.
        path: the file, for messages.
        notes: receives a note when the document needs Python's json (NaN/Infinity literals).
        keys: the top-level object's arrays to parse lazily.
        sizes: chunking thresholds.

    Raises:
        InputError: not JSON.
    """
    if len(buf) >= sizes.min_bytes:
        index = bracket_index(buf, block=sizes.scan_block)
        if index is not None and index.kinds[0] == OPEN_ARRAY:
            return Document([], {"": _top_level_array(buf, index, path, notes, records=sizes.records)()})
        if index is not None and keys:
            doc = _split_indexed_object(buf, index, path, notes, keys=keys, records=sizes.records)
            if doc is not None:
                return doc
    return Document.from_value(loads_whole(buf, path, notes), keys)


def split_object(
    buf: bytes, path: Path, notes: list[str], *, keys: tuple[str, ...], sizes: ChunkSizes = DEFAULT_SIZES
) -> Document | None:
    """A top-level object whose arrays under `keys` are parsed in chunks, whatever its size.

    None when the document is not plainly a balanced object holding at least one of them, a
    key occurs twice, or the part outside the arrays does not parse: the caller then parses
    the whole document, so the parser reports any error with its position.
    """
    index = bracket_index(buf, block=sizes.scan_block)
    if index is None:
        return None
    return _split_indexed_object(buf, index, path, notes, keys=keys, records=sizes.records)


def split_array(
    buf: bytes, path: Path, notes: list[str], *, sizes: ChunkSizes = DEFAULT_SIZES
) -> Iterator[list[Any]] | None:
    """The records of a top-level array in chunks, whatever its size; None when it is not one."""
    chunks = array_reader(buf, path, notes, sizes=sizes)
    return None if chunks is None else chunks()


def array_reader(
    buf: bytes, path: Path, notes: list[str], *, sizes: ChunkSizes = DEFAULT_SIZES, loads: WholeLoader | None = None
) -> Callable[[], Iterator[list[Any]]] | None:
    """`split_array` as a function iterating the chunks again, from the first, on each call.

    The bracket index is built once (now); each iteration parses the chunks from `buf` again
    (`array_chunks`; `loads` raises a broken file's error). None when `buf` is not plainly one
    top-level array (brackets that do not balance, or an object).

    Raises:
        InputError: text other than JSON white space around the array (`loads`'s error).
    """
    index = bracket_index(buf, block=sizes.scan_block)
    if index is None or index.kinds[0] != OPEN_ARRAY:
        return None
    return _top_level_array(buf, index, path, notes, records=sizes.records, loads=loads)


def _top_level_array(
    buf: bytes, index: BracketIndex, path: Path, notes: list[str], *, records: int, loads: WholeLoader | None = None
) -> Callable[[], Iterator[list[Any]]]:
    """The chunks of the top-level array of `index`, as a function iterating them from the first.

    Raises:
        InputError: text other than JSON white space before or after the array (`loads`'s error).
    """
    ends = index.positions[(index.kinds == CLOSE_OBJECT) & (index.depth == 1)]
    start, stop = int(index.positions[0]), int(index.positions[-1])
    if buf[:start].strip(_JSON_SPACE) or buf[stop + 1 :].strip(_JSON_SPACE):  # e.g. a form feed, text after it
        (loads or loads_whole)(buf, path, [])  # raises with the position in the file
        raise InputError(path, "text around the JSON array", hint="Re-export the file")
    return partial(array_chunks, buf, start, stop, ends, path, notes, records=records, loads=loads)


def _split_indexed_object(
    buf: bytes, index: BracketIndex, path: Path, notes: list[str], *, keys: tuple[str, ...], records: int
) -> Document | None:
    """`split_object` over an existing index."""
    import orjson

    if index.kinds[0] != OPEN_OBJECT:
        return None
    spans = _array_spans(buf, index, keys)
    if not spans:
        return None
    pieces, last = [], 0
    for start, stop, _ in sorted(spans.values(), key=lambda span: span[0]):
        pieces.append(buf[last : start + 1])
        last = stop
    pieces.append(buf[last:])
    try:
        head = orjson.loads(b"".join(pieces))
    except orjson.JSONDecodeError:
        return None
    if not isinstance(head, dict):
        return None
    arrays = {key: array_chunks(buf, *span, path, notes, records=records) for key, span in spans.items()}
    return Document(head, arrays)


def _array_spans(
    buf: bytes, index: BracketIndex, keys: tuple[str, ...]
) -> dict[str, tuple[int, int, npt.NDArray[np.int64]]] | None:
    """Per key in `keys`: the offsets of its array's ``[`` and ``]`` and of its records' closing braces.

    None when a key occurs twice (let the plain parser decide).
    """
    spos, skind, depth = index.positions, index.kinds, index.depth
    closes_to_1 = np.flatnonzero(depth == 1)
    spans: dict[str, tuple[int, int, npt.NDArray[np.int64]]] = {}
    for i in np.flatnonzero((skind == OPEN_ARRAY) & (depth == 2)).tolist():
        start = int(spos[i])
        m = _KEY_BEFORE_RE.search(buf, max(0, start - _KEY_LOOKBEHIND), start)
        if m is None or m.group(1).decode() not in keys:
            continue
        key = m.group(1).decode()
        if key in spans:
            return None
        k = int(closes_to_1[np.searchsorted(closes_to_1, i + 1)])
        inner = slice(i + 1, k)
        ends = spos[inner][(skind[inner] == CLOSE_OBJECT) & (depth[inner] == 2)]
        spans[key] = (start, int(spos[k]), ends)
    return spans


def bracket_index(buf: bytes, *, block: int = DEFAULT_SIZES.scan_block) -> BracketIndex | None:
    """Positions, kinds and depths of the brackets outside strings.

    Vectorized over the bytes, `block` bytes at a time, so every temporary is a few bytes per
    byte of one block: a bracket is inside a string when an odd number of unescaped quotes
    precede it, and a quote is escaped after an odd run of backslashes (looked for only in
    blocks holding a backslash). A mapped `buf`'s pages are released behind each block
    (`drop_pages`). None when the brackets do not describe one balanced top-level object or array.
    """
    arr = np.frombuffer(buf, np.uint8)
    found, kinds = [], []
    quote_parity, slash_parity = 0, False  # carried over blocks: quotes before, odd backslash run at the end
    for start in range(0, len(arr), block):
        chunk = arr[start : start + block]
        folded = chunk & 0xDF  # folds { } onto [ ] (0x7B -> 0x5B, 0x7D -> 0x5D); nothing else lands there
        spos = np.flatnonzero((folded == 0x5B) | (folded == 0x5D))
        del folded
        quotes = (chunk == 0x22).view(np.uint8)
        if slash_parity or buf.find(b"\\", start, start + len(chunk)) != -1:
            escaped, slash_parity = _escaped_quotes(chunk, slash_parity)
            quotes[escaped] = 0
        if len(spos):
            segments = np.empty(len(spos) + 1, np.int64)
            segments[0], segments[1:] = 0, spos
            inside = np.bitwise_xor.accumulate(np.bitwise_xor.reduceat(quotes, segments)[:-1]) ^ quote_parity
            spos = spos[inside == 0]
            kinds.append(_BRACKET_KIND[chunk[spos]])
            found.append(spos + start)
        quote_parity ^= int(np.bitwise_xor.reduce(quotes))
        del chunk, quotes
        drop_pages(buf, start, start + block)  # read: released (a mapped file's pages need not stay resident)
    del arr
    spos = np.concatenate(found) if found else np.empty(0, np.int64)
    skind = np.concatenate(kinds) if kinds else np.empty(0, np.uint8)
    if not len(skind) or skind[0] not in (OPEN_OBJECT, OPEN_ARRAY):
        return None
    depth = np.cumsum(np.where(skind <= OPEN_ARRAY, 1, -1).astype(np.int32))
    if depth[-1] != 0 or depth.min() < 0 or (depth[:-1] == 0).any():
        return None
    return BracketIndex(spos, skind, depth)


def _escaped_quotes(chunk: npt.NDArray[np.uint8], odd_before: bool) -> tuple[npt.NDArray[np.int64], bool]:
    """Positions in `chunk` of quotes escaped by a backslash: those after an odd-length run of backslashes.

    `odd_before` says the bytes before `chunk` end in an odd run of backslashes (a run can
    cross blocks); the second value says the same of the end of `chunk`.
    """
    slashes = np.flatnonzero(chunk == 0x5C)
    first_escaped = odd_before and len(chunk) > 0 and chunk[0] == 0x22
    if not len(slashes):
        return np.array([0] if first_escaped else [], np.int64), False
    breaks = np.flatnonzero(np.diff(slashes) != 1)
    run_start = slashes[np.concatenate([[0], breaks + 1])]
    run_end = slashes[np.concatenate([breaks, [len(slashes) - 1]])]
    odd_run = (run_end - run_start) % 2 == 0
    if odd_before and run_start[0] == 0:  # the run started in an earlier block
        odd_run[0] = not odd_run[0]
    odd_at_end = bool(odd_run[-1]) and int(run_end[-1]) == len(chunk) - 1
    after = run_end + 1
    after = after[odd_run & (after < len(chunk))]
    escaped = after[chunk[after] == 0x22]
    if first_escaped:
        escaped = np.concatenate([[0], escaped])
    return escaped, odd_at_end


def array_chunks(
    buf: bytes,
    start: int,
    stop: int,
    ends: npt.NDArray[np.int64],
    path: Path,
    notes: list[str],
    *,
    records: int = DEFAULT_SIZES.records,
    loads: WholeLoader | None = None,
) -> Iterator[list[Any]]:
    """Parse the array ``buf[start] == "[" ... buf[stop] == "]"`` `records` records at a time.

    `ends` are the offsets of the closing braces of its records; slices are cut just after
    every `records`-th one. Each slice is parsed with the file's own bytes around its cuts: the
    first as ``buf[start:cut] + "]"``, the others as ``"[0 " + buf[cut:next] + "]"`` (the 0 is
    dropped; the last ends with the array's own ``]``). The parser sees every byte of the array,
    so a slice is JSON exactly when the array is: a cut inside a string or a nested value, a
    comma missing or left over at a cut, all fail as in the whole file. A slice orjson refuses
    is read with Python's json (NaN/Infinity literals, with a note). The pages of a mapped
    file behind each parsed slice are released (`drop_pages`).

    Args:
        loads: parses the whole file to raise its error when a slice is not JSON (default
            `loads_whole`), so the message and position are the whole-file parser's.

    Raises:
        InputError: a slice is not JSON even for Python's json (when the iterator reaches it).
    """
    import orjson

    cuts = [start, *(ends[records - 1 :: records] + 1).tolist(), stop + 1]
    last = len(cuts) - 2
    for k in range(last + 1):
        a, b = cuts[k], cuts[k + 1]
        with memoryview(buf) as view:
            piece = b"".join((b"[0 " if k else b"", view[a:b], b"]" if k < last else b""))
        try:
            chunk = orjson.loads(piece)
        except orjson.JSONDecodeError:
            chunk = _loads_lenient_piece(piece, buf, path, notes, loads or loads_whole)
        del piece
        if k:
            del chunk[0]
        drop_pages(buf, a, b)
        if chunk:
            yield chunk
        del chunk  # freed before the next slice is parsed


def _loads_lenient_piece(piece: bytes, buf: bytes, path: Path, notes: list[str], loads: WholeLoader) -> Any:
    """A slice orjson rejects: NaN/Infinity literals (stdlib json reads them), or a broken file.

    Raises:
        InputError: the file is not JSON, with `loads`'s whole-file message and position.
    """
    import json

    try:
        records = json.loads(piece)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        loads(buf, path, [])  # raises with the position in the file
        raise InputError(path, "malformed JSON array", hint="Re-export the file") from None
    note_python_json(path, notes)
    return records


def note_python_json(path: Path, notes: list[str]) -> None:
    """Note, once, that part of `path` was read with Python's json (NaN/Infinity literals, which orjson refuses)."""
    note = f"{path.name}: uses non-standard JSON (NaN/Infinity literals); read with Python's json"
    if note not in notes:
        notes.append(note)


def drop_pages(buf: Any, start: int, stop: int) -> None:
    """Release the pages of a memory-mapped `buf` wholly inside ``[start, stop)`` from the process (none for bytes).

    Their bytes have been read, so they need not count in the process's memory (a 1.2 GB file
    would otherwise stay resident until the read ends); read again they come back from the page
    cache. The page holding `stop` is kept (the next slice starts in it).
    """
    if not isinstance(buf, mmap.mmap) or not hasattr(mmap, "MADV_DONTNEED"):
        return
    first = start - start % mmap.PAGESIZE
    end = min(stop, len(buf))
    end -= end % mmap.PAGESIZE if end < len(buf) else 0
    if end > first:
        buf.madvise(mmap.MADV_DONTNEED, first, end - first)
