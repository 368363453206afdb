"""The validate report: findings table, summary, exit code, and its CI renderings.

`Report.to_json` follows ``schemas/report.schema.json``; `Report.to_junit` writes one
testcase per check (failures list the findings); `Report.to_github` writes GitHub Actions
workflow commands (``::error file=...,line=...::message``). Every rendering can cap the number
of findings listed (``max_findings``); counts always cover all of them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from dataprep.errors import ExitCode, Finding, Severity

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
REPORT_VERSION = 1


@dataclass
class Report:
    """What `validate` found.

    Attributes:
        findings: one row per finding, columns ``code, severity, message, image_id,
            annotation_id, file, record, line, hint``, sorted by severity, code, file, line.
        checks: one dict per known check: ``code, severity, status`` (passed/failed/skipped),
            ``count``, ``description``, ``skip_reason``.
        summary: images, annotations, categories, per-split image counts, the class
            histogram (``classes``) and ``imbalance_ratio``.
        path, format: what was validated. `base` is the folder finding paths are relative to.
        diff: with ``diff=``, what the change added or removed per class.
    """

    findings: pd.DataFrame
    checks: list[dict[str, Any]]
    summary: dict[str, Any]
    path: str | None = None
    format: str | None = None
    notes: list[str] = field(default_factory=list)
    base: Path | None = None
    diff: dict[str, Any] | None = None

    @property
    def counts(self) -> dict[str, int]:
        """Findings per severity (all of them)."""
        vc = self.findings["severity"].value_counts()
        return {s: int(vc.get(s, 0)) for s in SEVERITY_ORDER}

    @property
    def exit_code(self) -> ExitCode:
        """`ExitCode.FINDINGS` when any finding has `error` severity, else `ExitCode.OK`."""
        return ExitCode.FINDINGS if self.counts["error"] else ExitCode.OK

    @property
    def ok(self) -> bool:
        """True when nothing at `error` severity was found."""
        return self.exit_code == ExitCode.OK

    def codes(self) -> list[str]:
        """Distinct finding codes, in report order."""
        return list(dict.fromkeys(self.findings["code"]))

    def iter_findings(self, max_findings: int | None = None) -> Iterator[Finding]:
        """The findings as `Finding` records, in report order."""
        rows = self.findings if max_findings is None else self.findings.head(max(max_findings, 0))
        for row in rows.itertuples(index=False):
            yield Finding(
                code=row.code,
                severity=Severity(row.severity),
                message=row.message,
                image_id=_int(row.image_id),
                annotation_id=_int(row.annotation_id),
                file=_str(row.file),
                record=_str(row.record),
                line=_int(row.line),
                hint=_str(row.hint),
            )

    # -- renderings ---------------------------------------------------------------------------

    def to_dict(self, max_findings: int | None = None) -> dict[str, Any]:
        """JSON-ready dict following ``schemas/report.schema.json``."""
        findings = [f.to_dict() for f in self.iter_findings(max_findings)]
        out: dict[str, Any] = {
            "version": REPORT_VERSION,
            "path": self.path,
            "format": self.format,
            "exit_code": int(self.exit_code),
            "counts": self.counts,
            "checks": self.checks,
            "summary": self.summary,
            "findings": findings,
            "findings_shown": len(findings),
            "notes": list(self.notes),
        }
        if self.diff is not None:
            out["diff"] = self.diff
        return out

    def to_json(self, max_findings: int | None = None, *, indent: int | None = 2) -> str:
        """The report as JSON text (keys sorted)."""
        return json.dumps(self.to_dict(max_findings), indent=indent, sort_keys=True, ensure_ascii=False)

    def to_junit(self, max_findings: int | None = None) -> str:
        """JUnit XML: one testcase per check; a check with `error` findings fails and lists them.

        Warning and info findings are listed in the testcase's ``system-out`` without failing it;
        checks that did not run are ``skipped``.
        """
        listed = self.findings if max_findings is None else self.findings.head(max(max_findings, 0))
        by_code = {code: group for code, group in listed.groupby("code", sort=False)}
        failures = sum(c["status"] == "failed" and c["severity"] == "error" for c in self.checks)
        skipped = sum(c["status"] == "skipped" for c in self.checks)
        seconds = float(self.summary.get("seconds", 0.0))
        name = f"dataprep validate {self.path or ''}".strip()
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<testsuites name={_attr(name)} tests="{len(self.checks)}" failures="{failures}" '
            f'errors="0" skipped="{skipped}" time="{seconds:.3f}">',
            f'  <testsuite name={_attr(name)} tests="{len(self.checks)}" failures="{failures}" '
            f'errors="0" skipped="{skipped}" time="{seconds:.3f}">',
        ]
        for check in self.checks:
            code = check["code"]
            head = f'    <testcase classname="dataprep.validate" name={_attr(code)}'
            if check["status"] == "skipped":
                lines.append(f"{head}><skipped message={_attr(check.get('skip_reason') or 'not run')}/></testcase>")
                continue
            if not check["count"]:
                lines.append(f"{head}/>")
                continue
            group = by_code.get(code)
            shown = 0 if group is None else len(group)
            body = "\n".join(_finding_line(f) for f in _frame_findings(group)) if group is not None else ""
            if shown < check["count"]:
                body += f"\n... {check['count'] - shown} more not listed (--max-findings)"
            text = _xml_text(body.strip())
            plural = "s" if check["count"] != 1 else ""
            summary = f"{check['count']} {check['severity']} finding{plural}: {check['description']}"
            if check["severity"] == "error":
                lines.append(f'{head}><failure type="{code}" message={_attr(summary)}>{text}</failure></testcase>')
            else:
                lines.append(f"{head}><system-out>{_xml_text(summary)}\n{text}</system-out></testcase>")
        lines += ["  </testsuite>", "</testsuites>", ""]
        return "\n".join(lines)

    def to_github(self, max_findings: int | None = None, *, cwd: str | Path | None = None) -> str:
        """GitHub Actions workflow commands, one per finding, plus a closing notice with the counts.

        ``file=`` is the finding's file relative to the working directory (the repository
        checkout in a workflow), ``line=`` where the format has lines.
        """
        here = Path(cwd) if cwd is not None else Path.cwd()
        level = {"error": "error", "warning": "warning", "info": "notice"}
        out = []
        for f in self.iter_findings(max_findings):
            props = []
            file = self._workspace_path(f.file, here)
            if file:
                props.append(f"file={_gh_property(file)}")
                if f.line:
                    props.append(f"line={f.line}")
            props.append(f"title={_gh_property(f.code)}")
            where = ": ".join(x for x in (f.record,) if x)
            message = f"{where}: {f.message}" if where else f.message
            if f.hint:
                message = f"{message.rstrip('.')}. {f.hint}"
            out.append(f"::{level[str(f.severity)]} {','.join(props)}::{_gh_data(message)}")
        c = self.counts
        total = sum(c.values())
        shown = len(out)
        tail = f" ({total - shown} not shown: --max-findings)" if shown < total else ""
        closing = f"{c['error']} errors, {c['warning']} warnings, {c['info']} info{tail}"
        out.append(f"::notice title=dataprep validate::{_gh_data(closing)}")
        return "\n".join(out) + "\n"

    def _workspace_path(self, file: str | None, here: Path) -> str | None:
        if not file:
            return None
        p = Path(file)
        if not p.is_absolute():
            if self.base is None:
                return p.as_posix()
            p = self.base / p
        try:
            rel = os.path.relpath(p.absolute(), here.absolute())
        except ValueError:  # another drive (Windows)
            return p.as_posix()
        return p.as_posix() if rel.startswith("..") else Path(rel).as_posix()


def _frame_findings(group: pd.DataFrame | None) -> Iterator[Finding]:
    if group is None:
        return
    yield from Report(group, [], {}).iter_findings()


def _finding_line(f: Finding) -> str:
    where = ":".join(str(x) for x in (f.file, f.line) if x)
    where = " ".join(x for x in (where, f.record) if x)
    ids = ", ".join(f"{k} {v}" for k, v in (("image", f.image_id), ("annotation", f.annotation_id)) if v is not None)
    text = f"{where}: {f.message}" if where else f.message
    return f"{text} [{ids}]" if ids else text


def _xml_clean(text: str) -> str:
    # XML 1.0 forbids most control characters even escaped: drop them (labels can hold anything)
    return "".join(ch for ch in text if ch in "\t\n\r" or _xml_char(ord(ch)))


def _xml_char(code: int) -> bool:
    return 0x20 <= code < 0xD800 or 0xE000 <= code <= 0xFFFD or code >= 0x10000


def _xml_text(text: str) -> str:
    from xml.sax.saxutils import escape

    return escape(_xml_clean(text))


def _attr(text: str) -> str:
    """An XML attribute value, quoted, with forbidden characters dropped."""
    from xml.sax.saxutils import quoteattr

    return quoteattr(_xml_clean(text))


def _gh_data(text: str) -> str:
    # GitHub's escaping for workflow command data (actions/toolkit command.ts escapeData)
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def _int(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _str(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
