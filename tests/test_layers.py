"""Import layers (STYLE.md §5): what may import what, checked so the next change cannot quietly cross.

- the data layers (formats, validation, splits, augmentation, encoding, metrics, and evaluation with
  its report) never import torch at import time: only ``nets/``, ``data.py``, ``training/`` and ``prediction.py`` do;
- a format never imports another format: only ``formats/base.py`` and the shared
  ``formats/_*.py`` helpers;
- only the CLI prints: library code returns values and raises errors;
- validation names no format: it asks the format's `ValidationHooks`.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dataprep"
TORCH_FREE = [
    "formats", "validation", "splits", "grouping", "hashes", "augmentation", "encoding", "metrics",
    "matching", "evaluation", "report", "summary",
]

_PROBE = """
import importlib, importlib.util, json, pkgutil, sys
out = {}
for name in sys.argv[1:]:
    full = "dataprep." + name
    if importlib.util.find_spec(full) is None:
        continue
    package = importlib.import_module(full)
    modules = [full]
    if hasattr(package, "__path__"):
        modules += [m.name for m in pkgutil.walk_packages(package.__path__, full + ".")]
    for module in modules:
        before = "torch" in sys.modules
        try:
            importlib.import_module(module)
        except Exception as err:  # someone else's test reports a module that does not import
            out[module] = "error: " + repr(err)[:200]
            continue
        if not before and "torch" in sys.modules:
            out[module] = "torch"
print(json.dumps(out))
"""


def test_data_layers_do_not_import_torch() -> None:
    # a fresh interpreter: this test process may have imported torch already
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *TORCH_FREE], capture_output=True, text=True, timeout=300, check=True
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    torch_importers = sorted(m for m, what in found.items() if what == "torch")
    assert torch_importers == [], f"import torch at import time (move it into the function that needs it): {found}"


def _py_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def _imports(tree: ast.Module, module: str) -> list[tuple[int, str]]:
    """``(line, absolute module)`` of every import in a module's tree, lazy ones included.

    ``from pkg import name`` gives ``pkg.name`` (a submodule or an attribute of ``pkg``).
    """
    package = module.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            out += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return out


def _module_name(file: Path) -> str:
    parts = list(file.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = [*parts[:-1], "__init__"]
    return ".".join(parts)


def _format_unit(module: str) -> str | None:
    """The format a ``dataprep.formats`` module belongs to; None for shared code (base, ``_*``)."""
    parts = module.split(".")
    if parts[:2] != ["dataprep", "formats"] or len(parts) < 3:
        return None
    name = parts[2]
    if name in ("base", "__init__") or name.startswith("_"):
        return None
    return name


def test_formats_do_not_import_one_another() -> None:
    formats_dir = PACKAGE / "formats"
    known_units = {p.stem for p in formats_dir.glob("*.py")} | {p.name for p in formats_dir.iterdir() if p.is_dir()}
    crossings = []
    for file in _py_files(formats_dir):
        module = _module_name(file)
        unit = _format_unit(module)
        tree = ast.parse(file.read_text(encoding="utf-8"))
        for line, target in _imports(tree, module):
            if module == "dataprep.formats.__init__":
                continue  # the registry imports every format
            target_unit = _format_unit(target)
            if target.count(".") == 2 and target.startswith("dataprep.formats.") and target_unit not in known_units:
                if target_unit is not None:  # FORMATS, load, read...: the registry, which imports every format
                    crossings.append(f"{file.relative_to(PACKAGE)}:{line} imports {target} from the registry")
            elif target_unit and target_unit in known_units and target_unit != unit:
                crossings.append(f"{file.relative_to(PACKAGE)}:{line} imports {target}")
    assert crossings == [], "a format may import formats/base.py and formats/_*.py only:\n" + "\n".join(crossings)


def _prints(tree: ast.Module) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id == "print":
                out.append((node.lineno, "print()"))
            elif isinstance(f, ast.Attribute):
                dotted = ast.unparse(f)
                if dotted in ("sys.stdout.write", "sys.stderr.write", "typer.echo", "typer.secho", "rich.print"):
                    out.append((node.lineno, dotted + "()"))
        elif isinstance(node, ast.ImportFrom) and node.module in ("rich", "rich.console"):
            names = {a.name for a in node.names}
            if names & {"Console", "print"}:
                out.append((node.lineno, f"from {node.module} import {', '.join(sorted(names))}"))
        elif isinstance(node, ast.Import) and any(a.name == "typer" for a in node.names):
            out.append((node.lineno, "import typer"))
    return out


def test_only_the_cli_prints() -> None:
    found = []
    for file in _py_files(PACKAGE):
        if "cli" in file.relative_to(PACKAGE).parts:
            continue
        for line, what in _prints(ast.parse(file.read_text(encoding="utf-8"))):
            found.append(f"{file.relative_to(PACKAGE)}:{line} {what}")
    assert found == [], "library code returns values or raises; printing belongs in dataprep/cli/:\n" + "\n".join(found)


def test_validation_names_no_format() -> None:
    from dataprep.formats import FORMATS
    from dataprep.validation import schema

    names = set(FORMATS)
    found = []
    for file in _py_files(PACKAGE / "validation"):
        tree = ast.parse(file.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
                # schema.py names schemas, and schemas/ names each after its document (coco.schema.json)
                if file.name == "schema.py" and node.value in schema.SCHEMAS:
                    continue
                found.append(f"{file.relative_to(PACKAGE)}:{node.lineno} {node.value!r}")
            elif isinstance(node, ast.ImportFrom | ast.Import):
                targets = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                found += [
                    f"{file.relative_to(PACKAGE)}:{node.lineno} imports {t}"
                    for t in targets
                    if _format_unit(t) in names
                ]
    assert found == [], "validation asks FormatSpec.validation hooks instead of naming formats:\n" + "\n".join(found)


def test_the_static_checks_see_what_they_guard() -> None:
    # guards the guards: each detector flags a planted example
    printing = ast.parse("import sys\nprint(1)\nsys.stdout.write('x')\nfrom rich.console import Console\n")
    assert [what for _, what in sorted(_prints(printing))] == [
        "print()",
        "sys.stdout.write()",
        "from rich.console import Console",
    ]
    crossing = ast.parse("from ..coco import layout\nfrom . import parse\nfrom dataprep.formats import FORMATS\n")
    targets = [t for _, t in _imports(crossing, "dataprep.formats.voc.documents")]
    assert targets == ["dataprep.formats.coco.layout", "dataprep.formats.voc.parse", "dataprep.formats.FORMATS"]
    assert [_format_unit(t) for t in targets] == ["coco", "voc", "FORMATS"]
    assert _py_files(PACKAGE / "formats") and _py_files(PACKAGE / "validation")


def test_cli_format_names_match_the_registry() -> None:
    # the CLI lists formats without importing them (start-up time); the registry is the truth
    from dataprep.cli._render import FORMAT_NAMES
    from dataprep.formats import FORMATS

    assert list(FORMAT_NAMES) == list(FORMATS)
