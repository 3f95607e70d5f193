"""The playground in a real browser (issue 23): headless Chromium opens ``/`` of a uvicorn
server on 127.0.0.1, picks the masked LM, types a sentence with [MASK], clicks Run, and
gets the fill-mask candidates, with no console error. The screenshot is a test artifact
in the test's temporary folder; with LMLAB_UPDATE_DOCS=1 it also replaces
docs/serve_playground.png (the README shows it), so a test run leaves the tree clean.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
JSON messages ended by NUL on fds 3 and 4), so no browser-driver package is needed.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "serve_playground.png"
SENTENCE = "the stock market [MASK] sharply in early trading"


class DevTools:
    """The DevTools protocol over Chromium's debugging pipe, one page session."""

    def __init__(self, chromium: str, profile: Path):
        to_browser, self._to_browser = os.pipe()
        self._from_browser, from_browser = os.pipe()

        def on_fds_3_and_4():  # runs in the child before exec
            os.dup2(to_browser, 3)
            os.dup2(from_browser, 4)

        self.process = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
            preexec_fn=on_fds_3_and_4, close_fds=False,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser)
        os.close(from_browser)
        self._buffer, self._next_id, self.events, self.session = b"", 0, [], None

    def _message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_browser], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(self._from_browser, 1 << 16) if ready else b""
            if not chunk:
                raise TimeoutError("no answer from Chromium")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, timeout: float = 30, **params) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            self.events.append(answer)

    def open(self, url: str) -> None:
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Runtime", "Page", "Log"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=1180, height=520,
                  deviceScaleFactor=1, mobile=False)
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise TimeoutError(f"still false after {timeout} s: {expression}")
            time.sleep(0.1)

    def click(self, selector: str) -> None:
        box = self.evaluate(f"(() => {{ const r = document.querySelector({selector!r})"
                            f".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left",
                      clickCount=1)

    def errors(self) -> list[str]:
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(params["exceptionDetails"].get("text", "exception"))
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                found.append(str(params.get("args")))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(params["entry"].get("text", ""))
        return found

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        os.close(self._to_browser)
        os.close(self._from_browser)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (.ci/run installs Debian's "
                                             "chromium package where it runs as root)")
def test_the_playground_fills_a_mask_in_headless_chromium(models, live_server, tmp_path):
    server = live_server(models)
    browser = DevTools(CHROMIUM, tmp_path / "profile")
    try:
        browser.open(server.url + "/")
        browser.wait_for("document.querySelectorAll('#model option').length === 9")
        browser.evaluate("(() => { const s = document.getElementById('model'); s.value = 'bert';"
                         " s.dispatchEvent(new Event('change')); })()")
        browser.click("#text")
        browser.evaluate("document.getElementById('text').select()")
        browser.call("Input.insertText", text=SENTENCE)  # typed, replacing the example
        browser.click("#run")
        browser.wait_for("document.getElementById('output').dataset.state === 'done'")
        shown = browser.evaluate("document.getElementById('output').innerText")
        bars = browser.evaluate("document.querySelectorAll('#output .bars .bar').length")
        typed = browser.evaluate("document.getElementById('text').value")
        png = base64.b64decode(browser.call("Page.captureScreenshot", format="png")["data"])
        errors = browser.errors()
    finally:
        browser.close()
    assert typed == SENTENCE
    assert "/fill-mask · bert" in shown and "mask #1" in shown
    assert bars == 5, shown  # the default top_k candidates, each with its probability
    assert not errors, errors
    (tmp_path / "playground.png").write_bytes(png)
    assert len(png) > 10_000
    if os.environ.get("LMLAB_UPDATE_DOCS") == "1":
        DOCS_SCREENSHOT.write_bytes(png)
