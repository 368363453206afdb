"""Safe XML -> rows: each ``<annotation>`` file to one image row and its object rows.

XML with a DOCTYPE or ENTITY declaration is refused before parsing (entity expansion "billion
laughs", external entities). Field errors name the file, the element path (``object[2]/bndbox/xmin``)
and its line, found by a second, expat pass only on the error path.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections import Counter
from typing import Any

from dataprep.errors import InputError
from dataprep.formats._numbers import MAX_IMAGE_SIDE
from dataprep.formats.voc.layout import Collector

FLAGS = ("truncated", "difficult", "occluded")
BOX_FIELDS = ("xmin", "ymin", "xmax", "ymax")
_BOX_INDEX = {name: i for i, name in enumerate(BOX_FIELDS)}
# Unsafe XML markers in the encodings expat reads natively (ASCII-compatible ones and UTF-16).
_UNSAFE_MARKERS = tuple(
    marker.encode(enc) for marker in ("<!DOCTYPE", "<!ENTITY") for enc in ("utf-8", "utf-16-le", "utf-16-be")
)
_INT_RE = re.compile(r"[+-]?\d+\Z")
_FLOAT_RE = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?\Z")
_OBJECT_TAG_RE = re.compile(rb"<object[\s/>]")
_BOX_HINT = "Each <bndbox> needs numeric <xmin>, <ymin>, <xmax>, <ymax> (1-based pixels); fix or remove the object"


# -- typed values ------------------------------------------------------------------------


def typed_value(text: str | None) -> Any:
    """CVAT attribute text -> bool / int / float / str (``true``/``false`` and numbers typed)."""
    if text is None:
        return ""
    t = text.strip()
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    if _INT_RE.match(t):
        return int(t)
    if _FLOAT_RE.match(t):
        return float(t)
    return text


def flag_value(text: str | None) -> Any:
    """A VOC 0/1 flag -> bool; other integers stay int, other text stays str; empty -> False."""
    t = (text or "").strip()
    if t in ("0", ""):
        return False
    if t == "1":
        return True
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    if _INT_RE.match(t):
        return int(t)
    return t


# -- errors with a place -----------------------------------------------------------------


def _unsafe_offset(data: bytes) -> int | None:
    """Byte offset of a DOCTYPE/ENTITY declaration, or None."""
    if b"\x00" not in data[:4] and b"<!" not in data:  # ASCII-compatible and no declaration at all
        return None
    hits = [pos for m in _UNSAFE_MARKERS if (pos := data.find(m)) >= 0]
    return min(hits) if hits else None


def _element_line(data: bytes, steps: list[tuple[str, int]]) -> int | None:
    """1-based line of the element at `steps` (``[("object", 2), ("bndbox", 1)]``) below the root.

    Only called on the error path (ElementTree's C parser keeps no line numbers); returns the
    line of the deepest ancestor found when the element itself is missing.
    """
    from xml.parsers import expat

    parser = expat.ParserCreate()
    counts: list[Counter[str]] = [Counter()]  # child tag counts of each open element
    on_path: list[bool] = [True]  # whether each open element lies on `steps`
    best: int | None = None

    def start(tag: str, _attrs: dict[str, str]) -> None:
        nonlocal best
        depth = len(counts)  # 1 = the root element
        counts[-1][tag] += 1
        level = depth - 2
        here = on_path[-1] and (depth == 1 or (level < len(steps) and steps[level] == (tag, counts[-1][tag])))
        counts.append(Counter())
        on_path.append(here)
        if here:
            best = parser.CurrentLineNumber

    def end(_tag: str) -> None:
        counts.pop()
        on_path.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    with contextlib.suppress(expat.ExpatError):  # a line is still useful from a broken file
        parser.Parse(data, True)
    return best


def _path_text(steps: list[tuple[str, int]]) -> str:
    return "/".join(f"{tag}[{n}]" if tag in ("object", "part") else tag for tag, n in steps)


def _field_error(xml_path: str, data: bytes, steps: list[tuple[str, int]], problem: str, hint: str) -> InputError:
    return InputError(xml_path, problem, record=_path_text(steps), hint=hint, line=_element_line(data, steps))


# -- fields ------------------------------------------------------------------------------


def _read_bndbox(el: Any, xml_path: str, data: bytes, steps: list[tuple[str, int]]) -> list[float]:
    """Four floats from a ``<bndbox>`` element, in xmin, ymin, xmax, ymax order."""
    texts: list[Any] = [..., ..., ..., ...]
    for child in el:
        i = _BOX_INDEX.get(child.tag)
        if i is not None and texts[i] is ...:
            texts[i] = child.text
    try:  # fast path; the loop below finds the culprit
        return [float(texts[0]), float(texts[1]), float(texts[2]), float(texts[3])]
    except (TypeError, ValueError):
        pass
    values = dict(zip(BOX_FIELDS, texts, strict=True))
    out = []
    for name in BOX_FIELDS:
        text = values.get(name, ...)
        if text is ...:
            raise _field_error(xml_path, data, [*steps, (name, 1)], f"missing <{name}>", _BOX_HINT)
        try:
            out.append(float(text))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise _field_error(
                xml_path, data, [*steps, (name, 1)], f"<{name}> is {text!r}, not a number", _BOX_HINT
            ) from None
    return out


def _size_field(text: str | None, name: str, xml_path: str, data: bytes, collector: Collector) -> int | None:
    """Width/height from ``<size>``: a positive whole number, else None (unknown)."""
    if text is not None and text.isascii() and text.isdigit() and len(text) < 10:  # fast path
        value = int(text)
        return value if value > 0 else None
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
        if not value.is_integer() or value > MAX_IMAGE_SIDE:  # 1e23 or 20 digits: not a size (issue 7)
            raise ValueError
    except ValueError:
        collector.report(
            _field_error(
                xml_path,
                data,
                [("size", 1), (name, 1)],
                f"<{name}> is {text!r}, not a whole number of pixels (at most {MAX_IMAGE_SIDE:,})",
                "Fix the value or remove <size> to have it read from the image",
            ),
            "invalid-record",
        )
        return None
    return int(value) if value > 0 else None


def load_xml(xml_path: str, data: bytes) -> Any:
    """The ``<annotation>`` root element of one file's bytes.

    Raises:
        InputError: a DOCTYPE/ENTITY declaration, malformed XML, or another root element.
    """
    import xml.etree.ElementTree as ET  # lazy: start-up time of the other formats

    unsafe_at = _unsafe_offset(data)
    if unsafe_at is not None:
        raise InputError(
            xml_path,
            "refused: the XML has a DOCTYPE/ENTITY declaration (entity expansion and external entities are unsafe)",
            record="DOCTYPE",
            line=data[:unsafe_at].count(b"\n") + 1,
            hint="Remove the <!DOCTYPE ...> block; VOC annotation files never need one",
        )
    try:
        root = ET.fromstring(data)
    except ET.ParseError as err:
        from xml.parsers.expat import ErrorString

        line, column = err.position
        raise InputError(
            xml_path,
            f"malformed XML: {ErrorString(err.code)}",
            record=f"line {line}, column {column + 1}",
            line=line,
            hint="Fix the file (an unclosed or misspelt tag, a bare '&') or remove it",
        ) from None
    if root.tag != "annotation":
        raise InputError(
            xml_path,
            f"root element is <{root.tag}>, expected <annotation>",
            record=root.tag,
            hint="Not a Pascal VOC annotation file: move it out of the annotations folder",
        )
    return root


def _object_lines(data: bytes, count: int) -> list[int | None]:
    """1-based lines of the `count` top-level ``<object>`` tags, found in the raw bytes.

    A text scan, not a second parse; when it does not find exactly `count` tags (one inside a
    comment, say) the lines are left unknown rather than guessed.
    """
    starts = [m.start() for m in _OBJECT_TAG_RE.finditer(data)]
    if len(starts) != count:
        return [None] * count
    lines, last, line = [], 0, 1
    for pos in starts:
        line += data.count(b"\n", last, pos)
        last = pos
        lines.append(line)
    return lines


# -- objects -----------------------------------------------------------------------------


def _object_fields(obj: Any, unknown_nested: Counter[str]) -> tuple[str | None, Any, dict[str, Any]]:
    """``(<name> text, <bndbox> element, attributes with <part> elements unparsed)`` of one object."""
    name = None
    bndbox = None
    attrs: dict[str, Any] = {}
    for child in obj:
        tag = child.tag
        if tag == "name":
            name = child.text
        elif tag == "bndbox":
            if bndbox is None:
                bndbox = child
        elif tag in FLAGS:
            text = child.text
            if text != "0":  # the common case first: VOC's default, not stored
                value = flag_value(text)
                if value is not False:
                    attrs[tag] = value
        elif tag == "pose":
            pose = child.text
            if pose != "Unspecified":
                pose = (pose or "").strip()
                if pose and pose != "Unspecified":
                    attrs["pose"] = pose
        elif tag == "part":
            attrs.setdefault("parts", []).append(child)
        elif tag == "actions":
            attrs["actions"] = {a.tag: flag_value(a.text) for a in child}
        elif tag == "attributes":
            for attribute in child:
                if attribute.tag != "attribute":
                    continue
                key = attribute.findtext("name")
                if key is not None and key.strip():
                    attrs[key.strip()] = typed_value(attribute.findtext("value"))
        elif len(child) == 0:
            attrs[tag] = typed_value(child.text)
        else:
            unknown_nested[tag] += 1
    return name, bndbox, attrs


def _parse_parts(parts: list[Any], xml_path: str, data: bytes, steps: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """``<part>`` elements -> ``{"name", "x_min", "y_min", "x_max", "y_max"}`` (continuous xyxy)."""
    out = []
    for k, part in enumerate(parts, 1):
        part_steps = [*steps, ("part", k)]
        part_name = (part.findtext("name") or "").strip()
        part_box = part.find("bndbox")
        if part_box is None:
            raise _field_error(xml_path, data, [*part_steps, ("bndbox", 1)], "missing <bndbox> in <part>", _BOX_HINT)
        x0, y0, x1, y1 = _read_bndbox(part_box, xml_path, data, [*part_steps, ("bndbox", 1)])
        out.append({"name": part_name, "x_min": x0 - 1.0, "y_min": y0 - 1.0, "x_max": x1, "y_max": y1})
    return out


def parse_object(
    obj: Any, number: int, xml_path: str, data: bytes, unknown_nested: Counter[str]
) -> tuple[str, list[float], dict[str, Any] | None]:
    """``(class name, [xmin, ymin, xmax, ymax] as in the file, attributes or None)``.

    Raises:
        InputError: ``<name>`` or ``<bndbox>`` missing or empty, or a coordinate not a number.
    """
    name, bndbox, attrs = _object_fields(obj, unknown_nested)
    steps = [("object", number)]
    if name is not None:
        name = name.strip()
    if not name:
        problem = "missing <name>" if name is None else "empty <name>"
        raise _field_error(xml_path, data, [*steps, ("name", 1)], problem, "Give every <object> a class <name>")
    if bndbox is None:
        raise _field_error(
            xml_path,
            data,
            [*steps, ("bndbox", 1)],
            "missing <bndbox>",
            "Give the object a <bndbox> or remove it (LabelMe polygons are not VOC)",
        )
    coords = _read_bndbox(bndbox, xml_path, data, [*steps, ("bndbox", 1)])
    if "parts" in attrs:
        attrs["parts"] = _parse_parts(attrs["parts"], xml_path, data, steps)
    return name, coords, attrs or None


# -- files -> rows -----------------------------------------------------------------------


@dataclasses.dataclass
class Rows:
    """Columns gathered from the xml files: one entry per image, one per object."""

    voc_id: list[str] = dataclasses.field(default_factory=list)
    filename: list[str | None] = dataclasses.field(default_factory=list)  # <filename> as written
    width: list[int | None] = dataclasses.field(default_factory=list)
    height: list[int | None] = dataclasses.field(default_factory=list)
    attributes: list[dict[str, Any] | None] = dataclasses.field(default_factory=list)
    source: list[str | None] = dataclasses.field(default_factory=list)  # xml file (provenance)
    object_image: list[int] = dataclasses.field(default_factory=list)  # row in the image columns
    object_name: list[str] = dataclasses.field(default_factory=list)
    object_coords: list[float] = dataclasses.field(default_factory=list)  # 4 per object, VOC 1-based
    object_attributes: list[dict[str, Any] | None] = dataclasses.field(default_factory=list)
    object_source: list[str] = dataclasses.field(default_factory=list)  # provenance: file, line, record
    object_line: list[int | None] = dataclasses.field(default_factory=list)
    object_record: list[str] = dataclasses.field(default_factory=list)
    unknown_nested: Counter[str] = dataclasses.field(default_factory=Counter)
    without_xml: int = 0  # images listed in a split file without an xml

    def add_image(self, voc_id: str, filename: str | None, width: int | None, height: int | None) -> int:
        self.voc_id.append(voc_id)
        self.filename.append(filename)
        self.width.append(width)
        self.height.append(height)
        self.attributes.append(None)
        self.source.append(None)
        return len(self.voc_id) - 1


def _image_fields(
    root: Any, xml_path: str, data: bytes, collector: Collector
) -> tuple[str | None, int | None, int | None, Any, list[Any]]:
    """``(<filename>, width, height, depth, <object> elements)`` of one ``<annotation>``."""
    filename = None
    width = height = depth = None
    objects = []
    for child in root:  # <folder> is the dataset's name in VOC itself ("VOC2007"), not a path
        tag = child.tag
        if tag == "object":
            objects.append(child)
        elif tag == "filename":
            filename = (child.text or "").strip()
        elif tag == "size":
            for s in child:
                if s.tag == "width":
                    width = _size_field(s.text, "width", xml_path, data, collector)
                elif s.tag == "height":
                    height = _size_field(s.text, "height", xml_path, data, collector)
                elif s.tag == "depth" and (s.text or "").strip():
                    depth = typed_value(s.text)
    return filename, width, height, depth, objects


def parse_file(rows: Rows, voc_id: str, xml_path: str, source: str | None, collector: Collector) -> None:
    """Append one xml file's image and objects to `rows`; a file that does not parse adds nothing.

    `source` is the file's name for provenance (None: no provenance kept).
    """
    with open(xml_path, "rb") as f:
        data = f.read()
    try:
        root = load_xml(xml_path, data)
    except InputError as err:
        collector.report(err, "unreadable-input")
        return
    filename, width, height, depth, objects = _image_fields(root, xml_path, data, collector)
    row = rows.add_image(voc_id, filename, width, height)
    if depth is not None and depth != 3:
        rows.attributes[row] = {"depth": depth}
    if source is not None:
        rows.source[row] = source
        lines = _object_lines(data, len(objects))
    for number, obj in enumerate(objects, 1):
        try:
            name, coords, attrs = parse_object(obj, number, xml_path, data, rows.unknown_nested)
        except InputError as err:
            collector.report(err, "invalid-record")
            continue
        if source is not None:
            rows.object_source.append(source)
            rows.object_line.append(lines[number - 1])
            rows.object_record.append(f"object[{number}]")
        rows.object_image.append(row)
        rows.object_name.append(name)
        rows.object_coords.extend(coords)
        rows.object_attributes.append(attrs)


def parse_files(
    ann_dir: str, xml_ids: dict[str, str], voc_ids: list[str], collector: Collector, *, source_dir: str | None
) -> Rows:
    """Rows for `voc_ids` in order: the xml file of each id in `xml_ids`, else an image without labels.

    Args:
        ann_dir: the annotations folder; `xml_ids` maps an id to its xml path relative to it.
        source_dir: prefix of provenance file names (``Annotations/``), None for no provenance.
    """
    rows = Rows()
    for voc_id in voc_ids:
        rel = xml_ids.get(voc_id)
        if rel is None:
            rows.add_image(voc_id, None, None, None)
            rows.without_xml += 1
            continue
        source = None if source_dir is None else f"{source_dir}{rel}"
        parse_file(rows, voc_id, f"{ann_dir}/{rel}", source, collector)
    return rows
