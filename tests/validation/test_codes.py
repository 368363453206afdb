"""Finding codes: what the code can emit, the CHECKS registry and the report schema agree."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

from dataprep.validation import CHECKS
from dataprep.validation.checks import READER_CODES
from dataprep.validation.context import format_hooks, formats_applying
from dataprep.validation.schema import load_schema

PACKAGE = Path(__file__).resolve().parents[2] / "dataprep"
KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)+$")


# what `validate` runs: the readers, the checks, and the shared modules they call (evaluation's
# prediction findings and the CLI's exit codes are other namespaces)
SCANNED = ["formats/**/*.py", "validation/**/*.py", "errors.py", "files.py", "dataset.py", "geometry.py", "boxes.py"]


def _sources() -> dict[Path, ast.Module]:
    files = sorted({f for pattern in SCANNED for f in PACKAGE.glob(pattern)})
    return {f: ast.parse(f.read_text(encoding="utf-8")) for f in files}


def _code_positions(trees: dict[Path, ast.Module]) -> tuple[dict[str, set[int]], dict[str, set[Path]]]:
    """Function name -> positional index of its ``code`` parameter; plus codes given as defaults."""
    positions: dict[str, set[int]] = defaultdict(set)
    defaults: dict[str, set[Path]] = defaultdict(set)
    positions["Finding"].add(0)  # dataprep.errors.Finding(code, severity, message, ...)
    for file, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            args = node.args
            params = [a.arg for a in args.posonlyargs + args.args]
            if "code" in params:
                offset = 1 if params[0] in ("self", "cls") else 0  # called as obj.method(...)
                positions[node.name].add(params.index("code") - offset)
            elif "code" in [a.arg for a in args.kwonlyargs]:
                positions.setdefault(node.name, set())  # keyword-only: only code= counts
            pairs = list(zip(reversed(args.args), reversed(args.defaults), strict=False))
            pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None]
            for arg, default in pairs:
                if arg.arg == "code" and isinstance(default, ast.Constant) and isinstance(default.value, str):
                    defaults[default.value].add(file)
    return positions, defaults


def emitted_codes() -> dict[str, set[Path]]:
    """Every finding code a code path can emit: string literals passed as a ``code`` parameter."""
    trees = _sources()
    positions, found = _code_positions(trees)
    for file, tree in trees.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if name not in positions:
                continue
            values = [node.args[i] for i in positions[name] if 0 <= i < len(node.args)]
            values += [k.value for k in node.keywords if k.arg == "code"]
            for value in values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    found[value.value].add(file)
    return {code: files for code, files in found.items() if KEBAB.match(code)}


def test_emitted_codes_are_the_registered_codes() -> None:
    emitted = emitted_codes()
    registered = set(CHECKS) | set(READER_CODES)
    unregistered = {c: sorted(str(f.relative_to(PACKAGE)) for f in emitted[c]) for c in set(emitted) - registered}
    assert not unregistered, f"codes emitted but not in CHECKS or READER_CODES: {unregistered}"
    assert registered - set(emitted) == set(), "registered codes that nothing emits"
    assert not set(CHECKS) & set(READER_CODES)


def test_report_schema_enum_lists_every_code() -> None:
    enum = load_schema("report")["$defs"]["code"]["enum"]
    assert len(enum) == len(set(enum))
    assert set(enum) == set(CHECKS) | set(READER_CODES)


def test_format_specific_checks_belong_to_a_format() -> None:
    specific = {code for code, rule in CHECKS.items() if rule.format_specific}
    assert specific, "the registry has format-specific checks (yolo-out-of-range, coco-id-zero)"
    for code in specific:
        assert formats_applying(code), f"{code}: no format's ValidationHooks.checks lists it"
    from dataprep.formats import FORMATS

    for name in FORMATS:
        hooks = format_hooks(name)
        assert set(getattr(hooks, "checks", ())) <= specific, name
