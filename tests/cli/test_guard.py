"""One error guard for every command (`dataprep.cli._render.guard`, issue 7 items 11-12 follow-up).

Each command is run on a forced internal error (the API function it calls raises RuntimeError):
exit 3, never a traceback unless ``--debug`` (or DATAPREP_DEBUG=1), and under ``--json`` one
``{"error": {"code", "message", "path"}}`` object on stdout (schemas/error.schema.json).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from dataprep.cli import _render, app
from dataprep.errors import ExitCode, UsageError
from dataprep.validation.schema import load_schema

runner = CliRunner()
ERROR_SCHEMA = Draft202012Validator(load_schema("error"))

# command -> (the API function it calls, its arguments with X/Y/OUT placeholders, its label when it names what failed)
COMMANDS: dict[str, tuple[str, list[str], str | None]] = {
    "convert": ("dataprep.formats.convert", ["convert", "X", "OUT", "--to", "yolo"], None),
    "info": ("dataprep.formats.load", ["info", "X"], None),
    "validate": ("dataprep.validation.validate", ["validate", "X"], "while validating"),
    "split": ("dataprep.splits.split_files", ["split", "X", "OUT"], "while splitting"),
    "augment": ("dataprep.augmentation.augment", ["augment", "X", "OUT", "--pipeline", "light"], "while augmenting"),
    "evaluate": ("dataprep.evaluation.evaluate", ["evaluate", "X", "Y"], "while evaluating"),
    "encode": ("dataprep.encoding.tables.encode_folder", ["encode", "X", "OUT"], None),
    "anchors": ("dataprep.encoding.tables.fit_anchors", ["anchors", "X"], None),
    "train": ("dataprep.training.run_command", ["train", "X", "--out", "OUT"], "while training"),
    "predict": ("dataprep.prediction.predict", ["predict", "X", "Y", "--out", "OUT"], "while predicting"),
    "demo": ("dataprep.demo.run_demo", ["demo", "--out", "OUT"], "while running the demo"),
    "samples regenerate": ("dataprep.samples.regenerate", ["samples", "regenerate", "--out", "OUT"], None),
    "samples detection": ("dataprep.samples.generate_detection", ["samples", "detection", "OUT"], None),
}
NO_JSON = {"demo"}  # commands without --json


def _registered() -> set[str]:
    group = typer.main.get_command(app)
    names = set()
    for name, command in group.commands.items():
        sub = getattr(command, "commands", None)
        names |= {f"{name} {s}" for s in sub} if sub else {name}
    return names


def test_every_registered_command_is_covered() -> None:
    assert _registered() == set(COMMANDS)  # a new command joins COMMANDS (and so this contract)


def _args(name: str, tmp_path: Path) -> list[str]:
    where = {"X": tmp_path / "x", "Y": tmp_path / "y", "OUT": tmp_path / "out"}
    return [str(where.get(a, a)) for a in COMMANDS[name][1]]


@pytest.fixture
def broken(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The command named by the test's parameter, its API function replaced by one that raises."""
    name = request.param

    def boom(*args, **kwargs):
        raise RuntimeError("forced\nbug")

    monkeypatch.delenv("DATAPREP_DEBUG", raising=False)
    monkeypatch.setattr(COMMANDS[name][0], boom)
    return name


@pytest.mark.parametrize("broken", list(COMMANDS), indirect=True)
def test_internal_error_exit_3_json_object_traceback_only_with_debug(broken: str, tmp_path: Path) -> None:
    name, label = broken, COMMANDS[broken][2]
    args = _args(name, tmp_path)

    plain = runner.invoke(app, args)
    assert plain.exit_code == ExitCode.INPUT, (plain.exit_code, plain.output)
    assert "Traceback" not in plain.output and plain.stdout == ""
    assert "error: internal error" in plain.stderr and "RuntimeError: forced bug; please report it" in plain.stderr
    if label:
        assert f"internal error {label}" in plain.stderr

    debug = runner.invoke(app, ["--debug", *args])
    assert debug.exit_code == ExitCode.INPUT, debug.output
    assert "Traceback" in debug.stderr and 'raise RuntimeError("forced' in debug.stderr
    assert debug.stderr.rstrip().endswith("please report it")  # the one-line message still comes last

    if name in NO_JSON:
        return
    for extra in ([], ["--debug"]):
        result = runner.invoke(app, [*extra, *args, "--json"])
        assert result.exit_code == ExitCode.INPUT, result.output
        data = json.loads(result.stdout)  # one document, and only that, on stdout
        ERROR_SCHEMA.validate(data)
        assert set(data["error"]) == {"code", "message", "path"}
        assert data["error"]["code"] == ExitCode.INPUT and data["error"]["path"] is None
        assert data["error"]["message"].startswith("internal error") and "\n" not in data["error"]["message"]
        assert ("Traceback" in result.stderr) == bool(extra)


@pytest.mark.parametrize("broken", ["split", "train"], indirect=True)
def test_debug_from_the_environment(broken: str, tmp_path: Path) -> None:
    result = runner.invoke(app, _args(broken, tmp_path), env={"DATAPREP_DEBUG": "1"})
    assert result.exit_code == ExitCode.INPUT and "Traceback" in result.stderr


def test_guard_outside_the_group_json_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as exit_info, _render.guard("testing", json=True):
        raise UsageError("--x 'y': not a choice")
    assert exit_info.value.exit_code == ExitCode.USAGE
    out, err = capsys.readouterr()
    assert json.loads(out) == {"error": {"code": 2, "message": "--x 'y': not a choice", "path": None}}
    assert err == "error: --x 'y': not a choice\n"

    with pytest.raises(typer.Exit) as exit_info, _render.guard("testing"):
        raise RuntimeError("bug")
    assert exit_info.value.exit_code == ExitCode.INPUT
    out, err = capsys.readouterr()
    assert out == "" and "internal error while testing: RuntimeError: bug" in err

    with pytest.raises(RuntimeError), _render.guard(json=True):  # no label: left to the top-level guard
        raise RuntimeError("bug")
