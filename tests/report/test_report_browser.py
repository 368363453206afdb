"""The HTML report in a real browser: headless Chromium over the DevTools pipe.

Checks what a reader would see: no console errors, every image decoded (naturalWidth > 0),
the tables present. Skipped when no chromium is installed (CI installs Debian's package).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

import dataprep
from dataprep.evaluation import evaluate

REPO = Path(__file__).resolve().parents[2]
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_browser() -> str | None:
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


class DevTools:
    """Chrome DevTools protocol over ``--remote-debugging-pipe`` (fd 3 in, fd 4 out, NUL-separated JSON)."""

    def __init__(self, browser: str, profile: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire() -> None:
            # via fresh copies: the pipe may already sit on fd 3 or 4, and dup2 onto itself
            # would keep its close-on-exec flag
            r, w = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(r, 3)
            os.dup2(w, 4)

        args = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-extensions",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            args, preexec_fn=wire, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, session: str | None = None, timeout: float = 30, **params: Any) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._next(timeout)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, timeout: float = 30) -> dict[str, Any]:
        for e in self.events:
            if e.get("method") == method:
                return e
        while True:
            e = self._next(timeout)
            self.events.append(e)
            if e.get("method") == method:
                return e

    def _next(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_chrome], [], [], left)[0]:
                raise TimeoutError("no answer from the browser")
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                raise RuntimeError("the browser closed the pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # already gone
            self.send("Browser.close", timeout=5)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


def is_error(event: dict[str, Any]) -> bool:
    """A console error or assert, an uncaught exception, an error log entry or a failed load."""
    method, params = event.get("method"), event.get("params", {})
    if method == "Runtime.consoleAPICalled":
        return params.get("type") in ("error", "assert")
    if method == "Log.entryAdded":
        return params.get("entry", {}).get("level") == "error"
    return method in ("Runtime.exceptionThrown", "Network.loadingFailed")


def inspect_page(page: Path, profile: Path, screenshot: Path | None = None) -> dict[str, Any]:
    """Load `page`; return its images, tables and every console error, exception or failed load."""
    browser = find_browser()
    assert browser is not None
    tools = DevTools(browser, profile)
    try:
        target = tools.send("Target.createTarget", url="about:blank")["targetId"]
        session = tools.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            tools.send(f"{domain}.enable", session)
        tools.send(
            "Emulation.setDeviceMetricsOverride", session, width=1200, height=900, deviceScaleFactor=1, mobile=False
        )
        tools.send("Page.navigate", session, url=page.resolve().as_uri())
        tools.wait_event("Page.loadEventFired")
        expr = (
            "JSON.stringify({images: [...document.images].map(i => ({alt: i.alt, complete: i.complete, "
            "width: i.naturalWidth})), tables: document.querySelectorAll('table').length, "
            "rows: document.querySelectorAll('tbody tr').length, title: document.title, "
            "headings: [...document.querySelectorAll('h2')].map(h => h.textContent)})"
        )
        value = tools.send("Runtime.evaluate", session, expression=expr, returnByValue=True)["result"]["value"]
        if screenshot is not None:
            shot = tools.send("Page.captureScreenshot", session, format="png", captureBeyondViewport=False)
            import base64

            screenshot.write_bytes(base64.b64decode(shot["data"]))
        info = json.loads(value)
        errors = [e.get("params", {}) for e in tools.events if is_error(e)]
        requests = [
            e["params"]["request"]["url"] for e in tools.events if e.get("method") == "Network.requestWillBeSent"
        ]
        info.update(errors=errors, requests=requests)
        return info
    finally:
        tools.close()


pytestmark = pytest.mark.skipif(find_browser() is None, reason="chromium is not installed (.ci/run installs it)")


@pytest.fixture(scope="module")
def detection_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    gt = dataprep.read(REPO / "samples" / "detection" / "coco")
    pred = gt.annotations.assign(score=[(k % 10) / 10 + 0.05 for k in range(len(gt.annotations))])
    pred = pred.assign(x_min=pred["x_min"] + 1.0)
    result = evaluate(gt, gt.replace(annotations=pred))
    return result.write_report(tmp / "report")


def test_detection_report_renders_in_chromium(detection_report: Path, tmp_path: Path) -> None:
    info = inspect_page(detection_report / "index.html", tmp_path / "profile")
    assert info["errors"] == []
    assert len(info["images"]) == 6
    assert all(img["complete"] and img["width"] > 0 for img in info["images"]), info["images"]
    assert info["tables"] >= 5 and info["rows"] > 20
    assert {"COCO stats", "Per class", "Errors", "Confusion", "Plots"} <= set(info["headings"])
    # self-contained: the page itself and its data: URIs, nothing else
    assert all(url.split(":", 1)[0] in ("file", "data") for url in info["requests"]), info["requests"]


def test_classification_report_renders_in_chromium(tmp_path: Path) -> None:
    gt = dataprep.read(REPO / "samples" / "classification" / "csv")
    result = evaluate(gt, REPO / "samples" / "classification" / "folders")
    out = result.write_report(tmp_path / "report")
    info = inspect_page(out / "index.html", tmp_path / "profile")
    assert info["errors"] == []
    assert len(info["images"]) == 3 and all(img["width"] > 0 for img in info["images"])
    assert info["tables"] >= 4
