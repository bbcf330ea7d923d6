"""Debian's headless Chromium for the tests that need a real browser.

`dump_dom` loads a page and returns its DOM. `Browser` drives pages through
the Chrome DevTools Protocol over `--remote-debugging-pipe` (fd 3: commands
in, fd 4: replies and events out, each message JSON ended by a NUL byte):
real mouse clicks and typing (`Input.*`, trusted events, as a person's),
scripts evaluated in the page, and the URLs it requested. The pipe needs no
Python dependency (a CDP client such as playwright downloads its own browser
build, and websocket-client would add a package and a debugging port to
find); chromium is started through a tiny Python trampoline that puts the
pipe ends on fds 3 and 4, as subprocess cannot place descriptors itself and
preexec_fn is unsafe beside the test servers' threads.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
TIMEOUT = 60.0  # seconds for one protocol reply or one wait: generous, the machines are shared

_TRAMPOLINE = ("import os, sys\n"
               "commands, replies = int(sys.argv[1]), int(sys.argv[2])\n"
               "os.dup2(commands, 3); os.dup2(replies, 4)\n"
               "os.close(commands); os.close(replies)\n"
               "os.execv(sys.argv[3], sys.argv[3:])\n")


def dump_dom(chromium: str, url: str, profile: Path) -> str:
    result = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=5000",
         "--dump-dom", url],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


class BrowserError(AssertionError):
    """The browser or the page did not do what the test asked."""


def _high(fd: int) -> int:
    """The same pipe end on a descriptor >= 10, so it cannot clash with 3 or 4."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Browser:
    """One headless chromium, driven over the DevTools pipe."""

    def __init__(self, chromium: str, profile: Path) -> None:
        profile.mkdir(parents=True, exist_ok=True)
        commands_in, commands_out = map(_high, os.pipe())
        replies_in, replies_out = map(_high, os.pipe())
        self._log = (profile / "chromium.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-c", _TRAMPOLINE, str(commands_in), str(replies_out),
             chromium, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile}",
             "about:blank"],
            pass_fds=(commands_in, replies_out), stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=self._log,
        )
        os.close(commands_in)
        os.close(replies_out)
        self._out = commands_out
        self._in = replies_in
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def command(self, method: str, params: dict[str, Any] | None = None,
                session: str | None = None) -> dict[str, Any]:
        """Send one command and return its result; a protocol error raises."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        reply = self._reply(self._next_id)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def _reply(self, wanted: int) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while True:
            while b"\0" in self._buffer:
                raw, _, self._buffer = self._buffer.partition(b"\0")
                message = json.loads(raw)
                if message.get("id") == wanted:
                    return message
                if "method" in message:
                    self.events.append(message)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._in], [], [], remaining)[0]:
                raise BrowserError(f"no reply from chromium in {TIMEOUT:.0f} s")
            chunk = os.read(self._in, 1 << 16)
            if not chunk:
                raise BrowserError(f"chromium exited ({self.process.poll()}); see {self._log.name}")
            self._buffer += chunk

    def open(self, url: str) -> Page:
        """A new tab showing `url`, with Runtime and Network events recorded."""
        target = self.command("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.command("Target.attachToTarget",
                               {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Runtime", "Network", "Page"):
            self.command(f"{domain}.enable", session=session)
        self.command("Emulation.setDeviceMetricsOverride",
                     {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                     session=session)
        self.command("Page.navigate", {"url": url}, session=session)
        page.on(lambda: bool(page.events_of("Page.loadEventFired")), f"{url} to load")
        return page

    def close(self) -> None:
        """Ask chromium to quit; kill the process this object started if it will not."""
        with contextlib.suppress(BrowserError, OSError):
            self.command("Browser.close")
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(15)
        for fd in (self._out, self._in):
            os.close(fd)
        self._log.close()


class Page:
    """One tab: evaluate scripts, wait for a condition, click and type as a user."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a script (promises awaited); a page exception raises."""
        result = self.browser.command("Runtime.evaluate", {
            "expression": expression, "returnByValue": True, "awaitPromise": True,
        }, session=self.session)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise BrowserError(f"{expression!r}: {details.get('exception', details)}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = TIMEOUT) -> Any:
        """Poll until the script's value is truthy; return it."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"still false after {timeout:.0f} s: {expression}")
            time.sleep(0.05)

    def _center(self, selector: str) -> tuple[float, float]:
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e) return null; e.scrollIntoView({block: 'center'});"
            " const r = e.getBoundingClientRect();"
            " if (!r.width || !r.height) return 'hidden';"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()")
        if box is None:
            raise BrowserError(f"no element matches {selector}")
        if box == "hidden":
            raise BrowserError(f"{selector} is not displayed, so it cannot be clicked")
        return box[0], box[1]

    def click(self, selector: str) -> None:
        """A left click at the element's centre, as the mouse sends it."""
        x, y = self._center(selector)
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.browser.command("Input.dispatchMouseEvent", {
                "type": kind, "x": x, "y": y, "button": "left" if kind != "mouseMoved" else "none",
                "clickCount": 1 if kind != "mouseMoved" else 0,
            }, session=self.session)

    def type(self, selector: str, text: str) -> None:
        """Click into a field, select what it holds and type `text` over it."""
        self.click(selector)
        self.evaluate(f"document.querySelector({json.dumps(selector)}).select()")
        self.browser.command("Input.insertText", {"text": text}, session=self.session)

    def choose(self, selector: str, value: str) -> None:
        """Pick an option of a <select> as a keyboard user does: focus it and type
        the start of the option's label (a closed select's type-ahead; clicking
        would open a popup that headless chromium draws nowhere)."""
        label = self.evaluate(
            f"(() => {{ const s = document.querySelector({json.dumps(selector)}); s.focus();"
            f" return [...s.options].find(o => o.value === {json.dumps(value)})?.text; }})()")
        if label is None:
            raise BrowserError(f"{selector} has no option {value!r}")
        for key in label:
            for kind in ("keyDown", "keyUp"):
                params = {"type": kind, "key": key, **({"text": key} if kind == "keyDown" else {})}
                self.browser.command("Input.dispatchKeyEvent", params, session=self.session)
            if self.evaluate(f"document.querySelector({json.dumps(selector)}).value") == value:
                return
        raise BrowserError(f"typing {label!r} into {selector} did not select {value!r}")

    def text(self, selector: str) -> str:
        """What a person sees of the element (innerText: hidden parts left out)."""
        return str(self.evaluate(
            f"document.querySelector({json.dumps(selector)})?.innerText ?? ''"))

    def visible(self, selector: str) -> bool:
        return bool(self.evaluate(
            f"!!document.querySelector({json.dumps(selector)})?.checkVisibility()"))

    def requested_urls(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events_of("Network.requestWillBeSent")]

    def errors(self) -> list[str]:
        """Uncaught exceptions and console errors of this page."""
        thrown = [str(e["params"]["exceptionDetails"])
                  for e in self.events_of("Runtime.exceptionThrown")]
        logged = [str(e["params"]["args"]) for e in self.events_of("Runtime.consoleAPICalled")
                  if e["params"]["type"] == "error"]
        return thrown + logged

    def events_of(self, method: str) -> list[dict[str, Any]]:
        return [e for e in self.browser.events
                if e.get("sessionId") == self.session and e["method"] == method]

    def on(self, check: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
        """Wait for a Python-side condition (e.g. on recorded events)."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for {what}")
            self.evaluate("0")  # reads the pipe, collecting events
            time.sleep(0.05)
