"""The common CVAT xml in bulk: ``<image>`` elements holding only plain boxes, read with two regular
expressions instead of an element tree.

A 10,000-image export is ~50,000 elements: building them (expat + ElementTree), walking them in
Python and freeing them costs ~4x what two ``findall`` scans over the text do. `scan` applies
only where the text is, for sure, XML that the tree would read the same way:

- the head (everything before the first ``<image``) is parsed with ElementTree, closed by
  ``</annotations>``: so it is well formed, its only open element is the root, and `parse`
  reads ``<meta>`` (and refuses ``<track>``) from it as from the whole tree;
- the rest is ``<image>`` elements, then ``</annotations>`` and white space, nothing else
  (the matches tile the text exactly): no comment, text, entity or character reference,
  namespace, control character or non-UTF-8 byte;
- an image's attributes are ``name="value"`` pairs (ASCII names, no duplicate, no ``xmlns``);
  its children are plain boxes: ``<box label="..." [source="..."] occluded="0" xtl ytl xbr ybr>``
  with ``z_order="0"`` before or after the coordinates (CVAT's order and this package's writer's),
  empty or self-closing. That is `parse._plain_box`'s rule (no rotation, group, flag or
  ``<attribute>``), less the label's attribute specs, which the caller checks.

Anything else returns None and the file is read as a tree, shape by shape, with the same result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import chain, islice, repeat
from operator import itemgetter
from typing import Any

import numpy as np

from dataprep.formats._numbers import INT64_END
from dataprep.formats.cvat.layout import image_file_name

_S = r"[ \t\r\n]"
_VALUE = r'[^"<&\x00-\x1f]'  # no reference, no markup, no control character: the text is the value


_NUMBER = r"[-+.0-9eE]"  # decimal numbers only ("nan", " 2"...: the tree path)
_BOXES = re.compile(  # groups: the whole element with the white space after it, label, z, xtl, ytl, xbr, ybr
    rf'(<box{_S}+label="({_VALUE}+)"(?:{_S}+source="{_VALUE}*")?{_S}+occluded="0"(?P<z>{_S}+z_order="0")?'
    rf'{_S}+xtl="({_NUMBER}*)"{_S}+ytl="({_NUMBER}*)"{_S}+xbr="({_NUMBER}*)"{_S}+ybr="({_NUMBER}*)"'
    rf'(?(z)|{_S}+z_order="0"){_S}*(?:/>|>{_S}*</box>){_S}*)'
)
_IMAGES = re.compile(  # groups: the whole element with the white space after it, its attributes, its content
    rf'(<image((?:{_S}+[A-Za-z_][A-Za-z0-9_.-]*="{_VALUE}*")*){_S}*'
    rf"(?:/>|>([^<]*(?:<(?!/image>|image[ \t\r\n/>])[^<]*)*)</image>){_S}*)"  # (no image inside: linear time)
)
_WHITE = " \t\r\n"
_FIRST, _SECOND, _COORDINATES = itemgetter(0), itemgetter(1), itemgetter(3, 4, 5, 6)
_ATTRIBUTE = re.compile(rf'([A-Za-z_][A-Za-z0-9_.-]*)="({_VALUE}*)"')
_FIRST_IMAGE = re.compile(rb"<image[ \t\r\n/>]")
_END = re.compile(rf"</annotations>{_S}*\Z")
_ENCODING = re.compile(rb"""\A(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding=["']([A-Za-z0-9._-]+)["']""")


@dataclass
class Scan:
    """What `scan` read: the head's root, each image's attributes and box count, each box's label and box."""

    head: Any  # ElementTree.Element: <annotations> with everything before the first <image>
    images: list[dict[str, str]]
    counts: list[int]
    labels: list[str]
    xyxy: np.ndarray | None  # (N, 4) float64 pixels; None if a coordinate is not a number


def scan(data: bytes) -> Scan | None:
    """The images of a CVAT xml of plain boxes (see the module), or None where the tree must read it."""
    from xml.etree import ElementTree

    first = _FIRST_IMAGE.search(data)
    declared = _ENCODING.match(data)
    # only "utf-8" (any case): expat reads "utf8" as a one-byte encoding and refuses non-ASCII text
    if first is None or (declared and declared.group(1).lower() != b"utf-8"):
        return None
    try:
        head = ElementTree.fromstring(data[: first.start()] + b"</annotations>")
        text = data[first.start() :].decode("utf-8")
    except (ElementTree.ParseError, UnicodeDecodeError):
        return None
    end = _END.search(text)
    if end is None or "\ufffe" in text or "\uffff" in text:  # characters XML forbids
        return None
    body = text[: end.start()]
    del text  # each step frees what the next no longer needs: the peak stays below a tree's
    found = _IMAGES.findall(body)
    if sum(map(len, map(_FIRST, found))) != len(body):  # the images tile the text: nothing else
        return None
    del body
    attributes = list(map(_SECOND, found))
    contents = [image[2].strip(_WHITE) for image in found]
    del found
    sizes = [a.count('"') >> 1 for a in attributes]  # values hold no '"': two per attribute
    pairs = iter(_ATTRIBUTE.findall("".join(attributes)))  # each starts with white space: no two run together
    images = [dict(islice(pairs, n)) for n in sizes]
    if list(map(len, images)) != sizes or any("xmlns" in a for a in images):
        return None  # a duplicate attribute (malformed) or a namespace (other element names)
    counts = [content.count("<box") for content in contents]
    joined = "\x00".join(contents)  # NUL: no box matches across two images
    del contents
    boxes = _BOXES.findall(joined)
    if sum(map(len, map(_FIRST, boxes))) + len(counts) - 1 != len(joined):  # only boxes in the images
        return None
    del joined
    labels = list(map(_SECOND, boxes))
    try:  # ``float``, as shape by shape
        values = np.fromiter(map(float, chain.from_iterable(map(_COORDINATES, boxes))), np.float64, 4 * len(boxes))
    except ValueError:  # "1.2.3": the tree path names it
        xyxy = None
    else:
        xyxy = values.reshape(-1, 4)
    return Scan(head, images, counts, labels, xyxy)


@dataclass
class ImageColumns:
    """One entry per ``<image>``: name (as written), clean name, unsafe?, file name, found?, size, subset."""

    names: list[str]
    clean: list[str]
    unsafe: list[bool]
    file_names: list[str]
    found: list[bool]
    widths: list[int | None]
    heights: list[int | None]
    subsets: list[str | None]


def image_columns(
    attribs: list[dict[str, str]],
    by_task: dict[str, str],
    fallback: str | None,
    image_files: set[str],
) -> ImageColumns:
    """The columns of the images with attributes `attribs`: subset = own ``subset``, else its task's
    (`by_task`), else `fallback`."""
    from dataprep.files import clean_members

    names = [a.get("name", "") for a in attribs]
    clean, bad = clean_members(names)  # the safe-path rule for all names at once
    if by_task:
        subsets = [a.get("subset") or by_task.get(a.get("task_id", "")) or fallback for a in attribs]
    else:
        subsets = [a.get("subset") or fallback for a in attribs]
    clean_names = clean.tolist()
    placed = list(map(image_file_name, clean_names, subsets, repeat(image_files)))
    file_names, found = (list(c) for c in zip(*placed, strict=True)) if placed else ([], [])
    widths = positive_ints([a.get("width") for a in attribs])
    heights = positive_ints([a.get("height") for a in attribs])
    return ImageColumns(names, clean_names, bad.tolist(), file_names, found, widths, heights, subsets)


def positive_int(text: str | None) -> int | None:
    """``int(text)`` when it is a positive integer that fits an int64, else None."""
    try:
        value = int(text or "")
    except ValueError:
        return None
    return value if 0 < value < INT64_END else None


def positive_ints(texts: list[str | None]) -> list[int | None]:
    """`positive_int` of each text (one ``map(int)`` pass when all are integers)."""
    try:
        values: list[Any] = list(map(int, texts))
    except (TypeError, ValueError):
        return list(map(positive_int, texts))
    if values and (min(values) <= 0 or max(values) >= INT64_END):
        return [v if 0 < v < INT64_END else None for v in values]
    return values
