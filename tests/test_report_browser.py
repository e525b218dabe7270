"""The report in a real browser: headless Chromium loads report.html without console errors,
requests nothing but the file itself and its inline data URIs, and shows every school's
sociogram (images decoded: naturalWidth > 0).

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: fd 3
for commands, fd 4 for replies, NUL-separated JSON), so no Python package beyond the standard
library is needed. Skipped when Chromium is not installed (``make browser`` installs it on
Debian: packages chromium + chromium-driver).
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipeline.cli import app

pytestmark = pytest.mark.browser

COHORT = Path(__file__).parent / "data" / "report_cohort"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
TIMEOUT = 60.0


class DevTools:
    """A minimal DevTools-protocol client for a Chromium started with --remote-debugging-pipe."""

    def __init__(self, binary: str, profile: Path, width: int = 1400, height: int = 1000):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # keep our ends away from 3 and 4, which the child needs for the protocol
        hi_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
        hi_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
        os.close(to_browser_r)
        os.close(from_browser_w)

        def child_fds() -> None:
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        args = [binary, "--headless", "--no-sandbox", "--disable-gpu",
                "--remote-debugging-pipe", f"--user-data-dir={profile}",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-default-apps", "--mute-audio",
                "--hide-scrollbars", f"--window-size={width},{height}", "about:blank"]
        self.proc = subprocess.Popen(args, pass_fds=(3, 4), preexec_fn=child_fds,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(hi_r)
        os.close(hi_w)
        self._buf = b""
        self._next_id = 0
        self.events: list[dict] = []

    # -- transport
    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        return self._next_id

    def _read_one(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Chromium")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed the DevTools pipe")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict | None = None, session: str | None = None
             ) -> dict:
        mid = self._send(method, params, session)
        deadline = time.monotonic() + TIMEOUT
        while True:
            msg = self._read_one(deadline)
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method: str, session: str | None = None) -> dict:
        deadline = time.monotonic() + TIMEOUT
        for i, ev in enumerate(self.events):
            if ev.get("method") == method and (session is None or ev.get("sessionId") == session):
                return self.events.pop(i)
        while True:
            msg = self._read_one(deadline)
            if msg.get("method") == method and (session is None
                                                or msg.get("sessionId") == session):
                return msg
            self.events.append(msg)

    def close(self) -> None:
        try:
            self._send("Browser.close")
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait(timeout=10)
        finally:
            os.close(self._to_browser)
            os.close(self._from_browser)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"headless Chromium not found at {CHROMIUM}: install it with `make browser` "
                    "(Debian packages chromium + chromium-driver) or set CHROMIUM=/path")
    out = tmp_path_factory.mktemp("browser") / "out"
    res = CliRunner().invoke(app, ["run", str(COHORT), "--out", str(out), "--rules",
                                   "--jobs", "1"])
    assert res.exit_code == 0, res.output + repr(res.exception)
    return out


@pytest.fixture(scope="module")
def page(report, tmp_path_factory) -> dict:
    """Load report.html once; collect console errors, requests and what the page shows."""
    browser = DevTools(CHROMIUM, tmp_path_factory.mktemp("chromium-profile"))
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.call("Target.attachToTarget",
                               {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            browser.call(f"{domain}.enable", session=session)
        url = (report / "report.html").resolve().as_uri()
        nav = browser.call("Page.navigate", {"url": url}, session=session)
        assert not nav.get("errorText"), nav
        browser.wait_for("Page.loadEventFired", session)
        probe = """JSON.stringify({
          images: Array.from(document.images).map(i => ({
            cls: i.className, complete: i.complete, w: i.naturalWidth, h: i.naturalHeight,
            shownWidth: i.getBoundingClientRect().width,
            school: i.closest('section.school') ? i.closest('section.school').id : null})),
          schools: Array.from(document.querySelectorAll('section.school')).map(s => s.id),
          overflow: document.documentElement.scrollWidth - window.innerWidth,
          title: document.title,
          h1: document.querySelector('h1').textContent})"""
        value = browser.call("Runtime.evaluate", {"expression": probe, "returnByValue": True},
                             session=session)["result"]["value"]
        # let late events (e.g. console output after load) arrive
        browser.call("Runtime.evaluate", {"expression": "1"}, session=session)
        events = list(browser.events)
    finally:
        browser.close()
    result = json.loads(value)
    result["events"] = events
    result["url"] = url
    return result


def test_page_loads_without_console_errors(page):
    errors = []
    for ev in page["events"]:
        params = ev.get("params", {})
        if ev.get("method") == "Runtime.exceptionThrown":
            errors.append(params.get("exceptionDetails", {}).get("text", "exception"))
        elif ev.get("method") == "Runtime.consoleAPICalled" and params.get("type") in (
                "error", "assert", "warning"):
            errors.append(" ".join(str(a.get("value", a.get("description", "")))
                                   for a in params.get("args", [])))
        elif ev.get("method") == "Log.entryAdded" and params.get("entry", {}).get("level") in (
                "error", "warning"):
            errors.append(params["entry"].get("text", ""))
        elif ev.get("method") == "Network.loadingFailed":
            errors.append(f"failed to load: {params.get('errorText')}")
    assert errors == []
    assert page["title"].startswith("Sleutelfiguren")


def test_nothing_but_the_file_and_data_uris_is_requested(page):
    urls = [ev["params"]["request"]["url"] for ev in page["events"]
            if ev.get("method") == "Network.requestWillBeSent"]
    assert page["url"] in urls
    assert [u for u in urls if u != page["url"] and not u.startswith("data:")] == []


def test_every_school_shows_its_sociogram(page):
    staff = pd.read_csv(COHORT / "staff.csv", dtype=str)
    schools = sorted(staff["school_id"].unique())
    assert page["schools"] == [f"school-{s}" for s in schools]
    sociograms = {i["school"]: i for i in page["images"] if "sociogram" in i["cls"]}
    assert sorted(sociograms) == [f"school-{s}" for s in schools]
    for img in sociograms.values():
        assert img["complete"] and img["w"] > 0 and img["h"] > 0, img
        assert img["shownWidth"] > 200, img


def test_layout_fits_the_window(page):
    assert page["overflow"] <= 0, "the page scrolls sideways at 1400 px"
