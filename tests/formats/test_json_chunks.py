"""The chunked JSON scanner: bracket index, object/array splitting, sizes passed as parameters."""

from __future__ import annotations

import json
import mmap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataprep.errors import InputError
from dataprep.formats import _json_chunks
from dataprep.formats._json_chunks import ChunkSizes, Document

KEYS = ("images", "annotations")


def tricky_doc(n: int = 9) -> dict[str, Any]:
    """Strings full of brackets, quotes and backslashes, nested values, a key before the arrays."""
    return {
        "info": {"note": 'a "[quoted]" {brace} \\ back\\\\slash', "list": [[1, 2], {"k": "]"}]},
        "images": [{"id": i, "file_name": f'dir\\{i}"[{{.jpg', "nested": {"a": [i, {"b": "}"}]}} for i in range(n)],
        "categories": [{"id": 1, "name": "{["}],
        "annotations": [{"id": i, "bbox": [i, i, 1, 1], "t": "\\" * i + '"'} for i in range(2 * n)],
    }


def encode(doc: Any, indent: int | None = None) -> bytes:
    return json.dumps(doc, indent=indent).encode()


@pytest.mark.parametrize("block", [1, 3, 64, 1 << 22])
def test_bracket_index_is_the_same_for_any_block_size(block: int) -> None:
    buf = encode(tricky_doc(), indent=1)
    index = _json_chunks.bracket_index(buf, block=block)
    reference = _json_chunks.bracket_index(buf, block=len(buf))
    assert index is not None and reference is not None
    np.testing.assert_array_equal(index.positions, reference.positions)
    np.testing.assert_array_equal(index.kinds, reference.kinds)
    np.testing.assert_array_equal(index.depth, reference.depth)


def test_bracket_index_skips_brackets_inside_strings() -> None:
    buf = b'{"a": "[{\\"}]", "b": [1, {"c": "\\\\"}]}'
    index = _json_chunks.bracket_index(buf, block=4)
    assert index is not None
    assert bytes(buf[p] for p in index.positions.tolist()) == b"{[{}]}"
    assert index.kinds.tolist() == [3, 4, 3, 5, 6, 5]
    assert index.depth.tolist() == [1, 2, 3, 2, 1, 0]


def reference_brackets(buf: bytes) -> list[int]:
    """Offsets of the brackets outside strings, by a byte-by-byte state machine."""
    out, in_string, escaped = [], False, False
    for i, byte in enumerate(buf):
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in b"[]{}":
            out.append(i)
    return out


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(st.text(alphabet='\\"[]{}a', max_size=10), min_size=1, max_size=8),
    block=st.integers(1, 9),
)
def test_bracket_index_agrees_with_a_state_machine_for_any_block(texts: list[str], block: int) -> None:
    """Runs of backslashes and quotes that cross block boundaries are still read right."""
    buf = json.dumps({"k": texts, "images": [{"s": t, "n": [t]} for t in texts]}).encode()
    index = _json_chunks.bracket_index(buf, block=block)
    assert index is not None
    assert index.positions.tolist() == reference_brackets(buf)


@pytest.mark.parametrize("buf", [b'{"a": [1}', b'{"a": 1}}', b'{"a": 1}{"b": 2}', b'"text"', b"12", b"]["])
def test_bracket_index_is_none_for_unbalanced_or_bracketless_documents(buf: bytes) -> None:
    assert _json_chunks.bracket_index(buf) is None


@pytest.mark.parametrize("records", [1, 2, 4, 100])
def test_split_object_cuts_every_records_records(records: int) -> None:
    doc = tricky_doc()
    parsed = _json_chunks.split_object(encode(doc), Path("x.json"), [], keys=KEYS, sizes=ChunkSizes(records=records))
    assert parsed is not None
    assert parsed.head == {**doc, "images": [], "annotations": []}
    for key in KEYS:
        chunks = list(parsed.arrays[key])
        assert [len(c) for c in chunks[:-1]] == [records] * (len(chunks) - 1)
        assert 0 < len(chunks[-1]) <= records
        assert [r for chunk in chunks for r in chunk] == doc[key]


def test_split_object_leaves_keys_not_asked_for_in_the_head() -> None:
    doc = tricky_doc()
    parsed = _json_chunks.split_object(encode(doc), Path("x.json"), [], keys=("annotations",))
    assert parsed is not None and set(parsed.arrays) == {"annotations"}
    assert parsed.head["images"] == doc["images"]


@pytest.mark.parametrize(
    "buf",
    [
        b'[{"images": [1]}]',  # not an object
        b'{"images": [{"id": 1}], "images": [{"id": 2}]}',  # a key twice: the plain parser decides
        b'{"other": [{"id": 1}]}',  # none of the keys
        b'{"images": [{"id": 1}], "x": tru}',  # the head does not parse
    ],
)
def test_split_object_declines_what_it_cannot_cut_plainly(buf: bytes) -> None:
    assert _json_chunks.split_object(buf, Path("x.json"), [], keys=KEYS) is None


def test_split_array_of_a_top_level_list() -> None:
    records = [{"id": i, "s": "]}" * i} for i in range(7)]
    chunks = _json_chunks.split_array(encode(records, indent=2), Path("x.json"), [], sizes=ChunkSizes(records=3))
    assert chunks is not None
    parts = list(chunks)
    assert [len(c) for c in parts] == [3, 3, 1]
    assert [r for part in parts for r in part] == records
    assert _json_chunks.split_array(b'{"a": [1]}', Path("x.json"), []) is None


@pytest.mark.parametrize("min_bytes", [0, 1 << 20])
def test_load_gives_the_same_document_chunked_or_whole(min_bytes: int) -> None:
    doc = tricky_doc()
    loaded = _json_chunks.load(encode(doc), Path("x.json"), [], keys=KEYS, sizes=ChunkSizes(min_bytes, records=2))
    assert loaded.head == {**doc, "images": [], "annotations": []}
    chunks = list(loaded.arrays["images"])
    assert len(chunks) == (5 if min_bytes == 0 else 1)
    assert [r for chunk in chunks for r in chunk] == doc["images"]


@pytest.mark.parametrize("min_bytes", [0, 1 << 20])
def test_load_of_other_top_levels(min_bytes: int) -> None:
    sizes = ChunkSizes(min_bytes=min_bytes, records=2)
    listed = _json_chunks.load(b'[{"a": 1}, {"a": 2}, {"a": 3}]', Path("x.json"), [], keys=KEYS, sizes=sizes)
    assert listed.head == [] and [r for c in listed.arrays[""] for r in c] == [{"a": 1}, {"a": 2}, {"a": 3}]
    scalar = _json_chunks.load(b" 7 ", Path("x.json"), [], keys=KEYS, sizes=sizes)
    assert scalar.head == 7 and scalar.arrays == {}
    not_a_list = _json_chunks.load(b'{"images": {"id": 1}}', Path("x.json"), [], keys=KEYS, sizes=sizes)
    assert not_a_list.head == {"images": {"id": 1}} and not_a_list.arrays == {}


@pytest.mark.parametrize("min_bytes", [0, 1 << 20])
def test_load_reads_nan_literals_with_a_note(min_bytes: int) -> None:
    notes: list[str] = []
    buf = b'{"images": [{"id": 1, "w": NaN}, {"id": 2, "w": 3}]}'
    loaded = _json_chunks.load(buf, Path("x.json"), notes, keys=KEYS, sizes=ChunkSizes(min_bytes, records=1))
    records = [r for c in loaded.arrays["images"] for r in c]
    assert np.isnan(records[0]["w"]) and records[1]["w"] == 3
    assert len(notes) == 1 and notes[0].startswith("x.json: ") and "NaN/Infinity" in notes[0]


@pytest.mark.parametrize("min_bytes", [0, 1 << 20])
def test_load_reports_broken_json_with_its_line(min_bytes: int) -> None:
    buf = encode(tricky_doc(), indent=1)[:-20]
    with pytest.raises(InputError, match="invalid JSON") as err:
        _json_chunks.load(buf, Path("x.json"), [], keys=KEYS, sizes=ChunkSizes(min_bytes=min_bytes))
    assert err.value.line is not None and err.value.line > 10


def test_a_broken_record_is_reported_when_its_chunk_is_reached() -> None:
    buf = b'{"images": [{"id": 1}, {"id": 2, "x": tru}, {"id": 3}]}'
    parsed = _json_chunks.split_object(buf, Path("x.json"), [], keys=KEYS, sizes=ChunkSizes(records=1))
    assert parsed is not None
    chunks = parsed.arrays["images"]
    assert next(chunks) == [{"id": 1}]
    with pytest.raises(InputError, match="invalid JSON"):
        next(chunks)


def test_the_scanner_reads_a_memory_map_like_bytes(tmp_path: Path) -> None:
    """A later change can map huge files instead of reading them (issue 7): same result."""
    doc = tricky_doc()
    path = tmp_path / "x.json"
    path.write_bytes(encode(doc, indent=1))
    sizes = ChunkSizes(records=4, scan_block=100)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        parsed = _json_chunks.split_object(mapped, path, [], keys=KEYS, sizes=sizes)  # type: ignore[arg-type]
        assert parsed is not None
        arrays = {key: [r for chunk in chunks for r in chunk] for key, chunks in parsed.arrays.items()}
    assert parsed.head == {**doc, "images": [], "annotations": []}
    assert arrays == {key: doc[key] for key in KEYS}


def test_read_document_strips_a_bom_and_refuses_empty_or_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}')
    assert _json_chunks.read_document(path) == b'{"a": 1}'
    path.write_bytes(b" \n\t")
    with pytest.raises(InputError, match="the file is empty"):
        _json_chunks.read_document(path)
    with pytest.raises(InputError, match="cannot read the file"):
        _json_chunks.read_document(tmp_path / "missing.json")


@pytest.mark.parametrize("sizes", [{"records": 0}, {"min_bytes": -1}, {"scan_block": 0}])
def test_chunk_sizes_must_be_positive(sizes: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="chunk sizes"):
        ChunkSizes(**sizes)


def test_document_from_a_parsed_value() -> None:
    doc = Document.from_value({"images": [1, 2], "annotations": None, "x": 1}, KEYS)
    assert doc.head == {"images": [], "annotations": None, "x": 1}
    assert [list(c) for c in doc.arrays["images"]] == [[1, 2]] and set(doc.arrays) == {"images"}


def test_large_documents_are_memory_mapped_not_read(tmp_path: Path) -> None:
    """A file past ``map_from`` is mapped (its bytes never copied whole into the heap); a BOM'd one is read."""
    path = tmp_path / "doc.json"
    path.write_bytes(b'{"images": [{"id": 1}], "x": 1}')
    assert isinstance(_json_chunks.read_document(path, map_from=10), mmap.mmap)
    assert isinstance(_json_chunks.read_document(path, map_from=1 << 20), bytes)
    assert isinstance(_json_chunks.read_document(path), bytes)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert _json_chunks.read_document(path, map_from=10) == b'{"images": [{"id": 1}], "x": 1}'


@pytest.mark.parametrize(
    "buf",
    [
        b'{"images": [{"id": 1} {"id": 2}, {"id": 3}]}',  # a comma missing exactly at a cut
        b'{"images": [{"id": 1}, {"id": 2},]}',  # a trailing comma
        b'{"images": [{"id": 1}, {"id": 2}, ]}',
        b'[{"id": 1} {"id": 2}]',
        b'[{"id": 1}, {"id": 2},\n]',
    ],
)
def test_chunks_refuse_what_the_whole_parser_refuses(buf: bytes) -> None:
    """Cutting after record braces must not make a malformed array readable (a comma at a cut)."""
    with pytest.raises(InputError, match="invalid JSON"):
        _json_chunks.loads_whole(buf, Path("x.json"), [])
    with pytest.raises(InputError, match="invalid JSON"):
        document = _json_chunks.load(buf, Path("x.json"), [], keys=KEYS, sizes=ChunkSizes(min_bytes=0, records=1))
        for chunks in document.arrays.values():
            list(chunks)


@pytest.mark.parametrize("records", [1, 2, 3])
def test_chunks_of_well_formed_arrays_with_any_spacing(records: int) -> None:
    for buf in (b'[{"a": 1},{"a": 2} , {"a": 3}\n]', b'[ {"a": 1}, {"a": 2}, {"a": 3} ]', b"[]", b"[ ]"):
        document = _json_chunks.load(buf, Path("x.json"), [], sizes=ChunkSizes(min_bytes=0, records=records))
        assert [r for c in document.arrays[""] for r in c] == json.loads(buf)


@pytest.mark.parametrize(
    "buf",
    [
        b'[{"a": 1}.5, {"a": 2}]',  # text at a cut that would join a number put before it
        b'[{"a": 1}e5, {"a": 2}]',
        b'[{"a": 1}\f, {"a": 2}]',  # Python's white space, not JSON's
        b'\f[{"a": 1}, {"a": 2}]',
        b'[{"a": 1}, {"a": 2}] 0',  # text after the array
        b'[{"a": 1}, {"a": 2}]\v',
        b"[\f]",
    ],
)
def test_chunks_of_a_top_level_array_refuse_what_the_whole_parser_refuses(buf: bytes) -> None:
    with pytest.raises(InputError, match="invalid JSON"):
        _json_chunks.loads_whole(buf, Path("x.json"), [])
    for records in (1, 2):
        with pytest.raises(InputError, match="invalid JSON"):
            chunks = _json_chunks.split_array(buf, Path("x.json"), [], sizes=ChunkSizes(records=records))
            assert chunks is not None
            list(chunks)


def test_array_reader_iterates_again_and_passes_its_loader() -> None:
    """Each call iterates the chunks from the first; a broken chunk raises through the caller's loader."""
    buf = b'[{"a": 1}, {"a": NaN}, {"a": 3}, 4]'
    notes: list[str] = []
    reader = _json_chunks.array_reader(buf, Path("x.json"), notes, sizes=ChunkSizes(records=1))
    assert reader is not None
    assert [len(c) for c in reader()] == [1, 1, 1, 1]  # cut after each object: 4 comes alone
    records = [r for c in reader() for r in c]
    assert records[0] == {"a": 1} and np.isnan(records[1]["a"]) and records[2:] == [{"a": 3}, 4]
    assert len(notes) == 1 and "NaN/Infinity" in notes[0]

    def loader(data: object, path: Path, notes: list[str]) -> None:
        raise InputError(path, "the caller's message")

    broken = _json_chunks.array_reader(b'[{"a": 1}, {"a": tru}]', Path("x.json"), [], loads=loader)
    assert broken is not None
    with pytest.raises(InputError, match="the caller's message"):
        list(broken())
    assert _json_chunks.array_reader(b'{"a": [1]}', Path("x.json"), []) is None


def test_mapped_pages_are_released_behind_the_reader_and_read_again(tmp_path: Path) -> None:
    """Pages dropped behind the bracket index and each chunk come back from the file when read again."""
    records = [{"id": i, "name": "x" * (i % 700), "s": '"]}\\'} for i in range(300)]  # chunks cross pages
    path = tmp_path / "x.json"
    path.write_bytes(encode(records, indent=1))
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        reader = _json_chunks.array_reader(mapped, path, [], sizes=ChunkSizes(records=7, scan_block=1000))  # type: ignore[arg-type]
        assert reader is not None
        assert [r for c in reader() for r in c] == records
        assert [r for c in reader() for r in c] == records
        _json_chunks.drop_pages(mapped, 0, len(mapped))
        _json_chunks.drop_pages(mapped, 5, 3)  # nothing to drop
        assert mapped[:] == path.read_bytes()
    _json_chunks.drop_pages(b"[]", 0, 2)  # bytes: nothing to do
