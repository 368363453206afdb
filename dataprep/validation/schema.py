"""JSON-Schema validation of the documents dataprep reads and writes (files in ``schemas/``).

Schemas cover document structure: the COCO top level, Ultralytics ``data.yaml``, the
``dataprep.yaml`` manifest and the validate report. Per-annotation checks on big files do
not go through JSON Schema one object at a time: a COCO file's arrays are schema-checked on
their first `COCO_SAMPLE` items; every record is covered by the reader's own field checks and
the vectorized semantic checks.
"""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from dataprep.errors import Finding, InputError, Severity
from dataprep.files import read_yaml

# The repository's schemas/ (a checkout or an editable install), else the copy a wheel ships
# as the dataprep.schemas package (pyproject.toml maps it).
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
if not SCHEMA_DIR.is_dir():
    SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"
SCHEMAS = {
    "coco": "coco.schema.json",
    "data-yaml": "data-yaml.schema.json",
    "error": "error.schema.json",
    "manifest": "manifest.schema.json",
    "report": "report.schema.json",
}
MANIFEST_NAMES = ("dataprep.yaml", "dataprep.yml", "dataprep.json")
COCO_SAMPLE = 1000  # items of each array of a JSON document (COCO) run through JSON Schema
COCO_SCHEMA_MAX_BYTES = 16 << 20  # bigger JSON documents are left to the reader's per-record checks
MAX_ERRORS = 50  # schema errors reported per document


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """The JSON schema called `name` (a key of `SCHEMAS`) as a dict."""
    try:
        file = SCHEMAS[name]
    except KeyError:
        raise ValueError(f"unknown schema {name!r}; known: {', '.join(SCHEMAS)}") from None
    return json.loads((SCHEMA_DIR / file).read_text(encoding="utf-8"))


@functools.cache
def _validator(name: str) -> Any:
    from jsonschema import Draft202012Validator

    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def pointer(parts: Any) -> str:
    """A jsonschema error path as ``images[3].width`` (``$`` for the document itself)."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "$"


def document_findings(
    doc: Any,
    schema: str,
    *,
    path: str | Path | None,
    node: Any = None,
    limit: int = MAX_ERRORS,
) -> list[Finding]:
    """``schema-violation`` findings of `doc` against a schema, with JSON-pointer records.

    Args:
        doc: the parsed document (YAML documents: keys already made strings).
        schema: a key of `SCHEMAS`.
        path: the document's file, for messages.
        node: the YAML node tree of the document, to give each finding its line.
        limit: report at most this many violations (the first by document order).
    """
    errors = sorted(_validator(schema).iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    out = []
    for err in errors[:limit]:
        record = pointer(err.absolute_path)
        line = _yaml_line(node, list(err.absolute_path)) if node is not None else None
        out.append(
            Finding(
                code="schema-violation",
                severity=Severity.ERROR,
                message=f"{_short(err.message)} (schema {SCHEMAS[schema]})",
                file=None if path is None else str(path),
                record=record,
                line=line,
                hint=_schema_hint(err),
            )
        )
    if len(errors) > limit:
        out.append(
            Finding(
                code="schema-violation",
                severity=Severity.ERROR,
                message=f"{len(errors) - limit} more schema violations not listed",
                file=None if path is None else str(path),
            )
        )
    return out


def _short(text: str, n: int = 200) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def _schema_hint(err: Any) -> str:
    if err.validator == "required":
        return "Add the missing field"
    if err.validator == "type":
        return f"Use a value of type {err.validator_value}"
    if err.validator == "additionalProperties":
        return "Remove the unknown key, or check its spelling"
    return "Fix the value to match the schema"


# -- YAML -----------------------------------------------------------------------------------------


def _yaml_line(node: Any, parts: list[Any]) -> int | None:
    """1-based line of the element at `parts` in a composed YAML node tree (nearest parent found)."""
    import yaml

    line = None
    for part in [None, *parts]:
        if part is not None:
            if isinstance(node, yaml.MappingNode):
                match = [v for k, v in node.value if str(getattr(k, "value", None)) == str(part)]
                if not match:
                    break
                node = match[0]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
            else:
                break
        if node is not None and getattr(node, "start_mark", None) is not None:
            line = node.start_mark.line + 1
    return line


# -- manifest --------------------------------------------------------------------------------------


def find_manifest(path: str | Path) -> Path | None:
    """``dataprep.yaml``/``.yml``/``.json`` in the dataset folder (or beside a label file), if any."""
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    for name in MANIFEST_NAMES:
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Read and schema-check a manifest (YAML or JSON).

    Raises:
        InputError: unreadable, unparseable, or not matching ``schemas/manifest.schema.json``
            (the first violation, with its record and line).
    """
    p = Path(path)
    if p.suffix.lower() == ".json":
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except OSError as err:
            raise InputError(p, f"cannot read the file ({err.strerror or err})", hint="Check the path") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            line = getattr(err, "lineno", None)
            raise InputError(p, f"not valid JSON ({err})", line=line, hint="Fix the JSON syntax") from None
        node = None
    else:
        doc, node = read_yaml(p)
    if doc is None:
        doc = {}
    findings = document_findings(doc, "manifest", path=p, node=node, limit=1)
    if findings:
        f = findings[0]
        raise InputError(p, f.message, record=f.record, line=f.line, hint=f.hint)
    return doc


# -- data.yaml ------------------------------------------------------------------------------------


def check_data_yaml(path: str | Path) -> list[Finding]:
    """Findings for an Ultralytics ``data.yaml``: schema, ``nc`` vs ``names``, contiguous class keys."""
    p = Path(path)
    try:
        doc, node = read_yaml(p)
    except InputError as err:
        return [err.to_finding("schema-violation")]
    out = document_findings(doc, "data-yaml", path=p, node=node)
    if out or not isinstance(doc, dict):
        return out
    names = doc.get("names")
    count = len(names)
    if isinstance(names, dict):
        keys = sorted(int(k) for k in names)
        if keys != list(range(count)):
            out.append(
                Finding(
                    "schema-violation",
                    Severity.ERROR,
                    f"names keys are {keys[:10]}{'...' if count > 10 else ''}; "
                    f"YOLO class indices must be 0..{count - 1}",
                    file=str(p),
                    record="names",
                    line=_yaml_line(node, ["names"]),
                    hint="Number the classes from 0 without gaps",
                )
            )
    nc = doc.get("nc")
    if nc is not None and nc != count:
        out.append(
            Finding(
                "schema-violation",
                Severity.ERROR,
                f"nc is {nc} but names has {count} entries",
                file=str(p),
                record="nc",
                line=_yaml_line(node, ["nc"]),
                hint="Make nc equal the number of names (or drop nc)",
            )
        )
    return out


# -- any document ---------------------------------------------------------------------------------


def check_document(path: str | Path, schema: str, *, display: str | None = None) -> list[Finding]:
    """``schema-violation`` findings of one metadata document (a format's `Document`).

    JSON files are checked as `check_coco_file` checks COCO (big arrays sampled, huge or
    unparseable files left to the reader); YAML files with their line numbers, ``data-yaml``
    with its extra rules (`check_data_yaml`).

    Args:
        path: the document.
        schema: a key of `SCHEMAS`.
        display: the file name findings show (default: `path` as given).
    """
    p = Path(path)
    if p.suffix.lower() == ".json":
        return _check_json(p, schema, display=display, sample=COCO_SAMPLE)
    if schema == "data-yaml":
        found = check_data_yaml(p)
    else:
        try:
            doc, node = read_yaml(p)
        except InputError as err:
            found = [err.to_finding("schema-violation")]
        else:
            found = document_findings(doc, schema, path=p, node=node)
    return found if display is None else [replace(f, file=display) for f in found]


# -- COCO -----------------------------------------------------------------------------------------


def check_coco_file(path: str | Path, *, display: str | None = None, sample: int = COCO_SAMPLE) -> list[Finding]:
    """``schema-violation`` findings of a COCO json's structure (the first `sample` items of each array).

    Files over `COCO_SCHEMA_MAX_BYTES` are skipped: parsing them whole as Python objects would
    cost ~10x their size in memory, and the reader already checks every record's fields (it
    reports ``invalid-record`` and ``duplicate-id``). A file that does not parse gives no
    finding here: the reader reports it.
    """
    return _check_json(Path(path), "coco", display=display, sample=sample)


def _check_json(p: Path, schema: str, *, display: str | None, sample: int) -> list[Finding]:
    import orjson

    name = display or str(p)
    try:
        if p.stat().st_size > COCO_SCHEMA_MAX_BYTES:
            return []
        doc = orjson.loads(p.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return []
    if not isinstance(doc, dict):
        return document_findings(doc, schema, path=name)
    trimmed = {k: (v[:sample] if isinstance(v, list) else v) for k, v in doc.items()}
    return document_findings(trimmed, schema, path=name)
