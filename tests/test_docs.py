"""The documentation site: ``python scripts/build_docs.py`` writes the generated pages, ``mkdocs build
--strict`` builds the site (a broken link or anchor fails it), the command reference names every
command of ``ibbench.cli.build_parser()``, and headless Chromium renders the home page, a results page
and the API page with no console error and every image loaded.

Chromium is driven through the DevTools protocol over ``--remote-debugging-pipe`` (JSON messages
separated by NUL bytes on file descriptors 3 and 4), so the check needs nothing but the standard
library and a Chromium binary; without one it is skipped.  The site is served over HTTP from a thread,
as a reader's browser would load it (the search worker does not run from file:// URLs).
"""

from __future__ import annotations

import argparse
import fcntl
import functools
import http.server
import importlib.util
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MANIFEST = ROOT / "results" / "manifest.toml"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def _needs_mkdocs() -> None:
    missing = [m for m in ("mkdocs", "material", "mkdocstrings") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: pip install -e '.[docs]' to build the docs")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The generated pages written into docs/ (git-ignored), then the whole site built strictly."""
    _needs_mkdocs()
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    for command in (
        [sys.executable, "scripts/build_docs.py"],
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
    ):
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, f"{' '.join(command[1:])} failed:\n{done.stdout}\n{done.stderr}"
    return out


def test_site_builds_strictly(site):
    for page in ("index.html", "reference/commands/index.html", "reference/api/index.html"):
        assert (site / page).is_file(), page
    api = (site / "reference/api/index.html").read_text(encoding="utf-8")
    for name in ("ibbench.estimate.estimate_mi", "ibbench.estimate.run", "ibbench.frames.load_results"):
        assert f'id="{name}"' in api, f"the API reference documents no {name}"


def _commands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out[f"{prefix}{name}"] = sub
                out.update(_commands(sub, f"{prefix}{name} "))
    return out


def test_command_reference_names_every_command_and_option(site):
    from ibbench.cli import build_parser

    text = (DOCS / "reference" / "commands.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^## `ibbench ([^`]+)`.*?\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S))
    commands = _commands(build_parser())
    assert {"run", "estimate", "reproduce", "suite run", "data get", "bench throughput"} <= set(commands)
    assert set(commands) == set(sections), "the reference and build_parser() list different commands"
    for name, parser in commands.items():
        options = [o for a in parser._actions for o in a.option_strings]
        missing = [o for o in options if o not in sections[name]]
        assert not missing, f"`ibbench {name}` section lacks {missing}"


def test_results_pages_cover_the_manifest(site):
    from ibbench.reproduction.reproduce import load_manifest

    pages = {p.name: p.read_text(encoding="utf-8") for p in (DOCS / "results").glob("*.md")}
    every = "\n".join(pages.values())
    for result in load_manifest(MANIFEST).result:
        section = re.search(rf"^## {re.escape(result.name)}\n\n\*\*(.+?)\*\*", every, flags=re.M)
        assert section, f"no section for {result.name}"
        assert section.group(1) in ("current", "NOT CURRENT") or section.group(1).startswith("awaiting ")
        assert f"[{result.name}](" in pages["index.md"]
    tracked = subprocess.run(["git", "ls-files", "results"], cwd=ROOT, capture_output=True, text=True)
    for path in (p for p in tracked.stdout.split() if p.endswith(".png")):  # every committed figure is shown
        image = f"img/{path.removeprefix('results/')}"
        assert (DOCS / "results" / image).is_file() and f"]({image})" in every, path
    assert "results/benchmarks/throughput-cpu.md" in pages["benchmarks.md"]


def test_python_api_page_examples_compile():
    text = (DOCS / "python-api.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 2
    for block in blocks:
        compile(block, "docs/python-api.md", "exec")
    for name in ("estimate_mi", "run", "load_results"):
        assert f"ibbench.{name}(" in text


# ---- headless Chromium -------------------------------------------------------------------------------------


def _chromium() -> str | None:
    given = os.environ.get("IBBENCH_CHROMIUM")
    return given or next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


class DevTools:
    """A Chromium process and its DevTools protocol over --remote-debugging-pipe."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # Chromium's ends, moved above 9 so that bash can put them on 3 and 4 without clobbering either
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_chrome_r, from_chrome_w)]
        for fd in (to_chrome_r, from_chrome_w):
            os.close(fd)
        flags = ["--headless=new", "--disable-gpu", "--no-sandbox", "--no-first-run", "--disable-extensions"]
        flags += ["--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"]
        # the protocol's file descriptors are 3 (commands in) and 4 (replies out)
        script = f'exec "$@" 3<&{ends[0]} 4>&{ends[1]} {ends[0]}<&- {ends[1]}>&-'
        self.process = subprocess.Popen(
            ["bash", "-c", script, "bash", binary, *flags],
            pass_fds=ends,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for fd in ends:
            os.close(fd)
        self._messages: queue.Queue = queue.Queue()
        self._next_id = 0
        self.events: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        while chunk := os.read(self._from_chrome, 1 << 16):
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for message in messages:
                self._messages.put(json.loads(message))

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30):
        """The result of one command; every event that arrives meanwhile is kept in ``events``."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._messages.get(timeout=max(0.1, deadline - time.monotonic()))
            if reply.get("id") == self._next_id:
                assert "error" not in reply, f"{method}: {reply['error']}"
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            event = self._messages.get(timeout=max(0.1, deadline - time.monotonic()))
            self.events.append(event)
            if event.get("method") == method:
                return event

    def drain(self, seconds: float) -> None:
        """Keep the events that arrive within ``seconds`` (late console errors, e.g. the search worker's)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                self.events.append(self._messages.get(timeout=left))
            except queue.Empty:
                return

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except Exception:  # noqa: BLE001 (already gone)
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        os.close(self._to_chrome)


def _errors(events: list[dict]) -> list[str]:
    """Console errors, uncaught exceptions and failed loads among the DevTools events of one page."""
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found.append(
                "console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            )
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            found.append("exception: " + details.get("exception", {}).get("description", details["text"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            found.append(f"log: {params['entry']['text']} ({params['entry'].get('url', '')})")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            found.append(f"network: {params['errorText']}")
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
            found.append(f"network: {params['response']['status']} {params['response']['url']}")
    return found


IMAGES = """
Promise.all(Array.from(document.images, img => img.complete ? null :
    new Promise(done => { img.addEventListener('load', done); img.addEventListener('error', done); })))
  .then(() => JSON.stringify({
    title: document.title,
    images: Array.from(document.images, img => [img.getAttribute('src'), img.naturalWidth]),
    text: document.body.innerText.length,
  }))
"""


@pytest.fixture(scope="module")
def served(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize(
    ("page", "needs_images"),
    [("", False), ("results/estimators/", True), ("results/training/", True), ("reference/api/", False)],
)
def test_pages_render_in_chromium(served, tmp_path, page, needs_images):
    binary = _chromium()
    if binary is None:
        pytest.skip(f"no Chromium binary ({', '.join(CHROMIUM_NAMES)} on PATH, or IBBENCH_CHROMIUM)")
    if shutil.which("bash") is None:
        pytest.skip("no bash to hand Chromium its DevTools pipes")
    browser = DevTools(binary, tmp_path / "profile")
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            browser.send(f"{domain}.enable", session=session)
        browser.events.clear()
        browser.send("Page.navigate", {"url": f"{served}/{page}"}, session=session)
        browser.wait_for("Page.loadEventFired")
        found = browser.send(
            "Runtime.evaluate",
            {"expression": IMAGES, "awaitPromise": True, "returnByValue": True},
            session=session,
        )
        browser.drain(1.0)
    finally:
        browser.close()
    state = json.loads(found["result"]["value"])
    assert state["title"].endswith("ibbench") and state["text"] > 500, state
    errors = _errors(browser.events)
    assert not errors, f"/{page}: " + "; ".join(errors)
    broken = [src for src, width in state["images"] if width == 0]
    assert not broken, f"/{page}: images that did not load: {broken}"
    if needs_images:
        assert len(state["images"]) >= 2, f"/{page} shows no figures"
