"""WCAG 2.1 AA: axe-core in headless Chromium on representative pages of the sample site, and
the front page at phone and desktop width (screenshots kept in the test's tmp folder)."""

from __future__ import annotations

import base64
import fcntl
import functools
import json
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import websocket

from services.ingest.service import seed
from services.render.rebuild import rebuild
from shared.db import session_scope
from tests.tools import ensure_command

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "shared" / "data" / "sample_items.json"
# npm installs axe-core here once (var/ is ignored by git), then every run reuses it.
TOOLS = ROOT / "var" / "test-tools"
AXE = TOOLS / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
]
PHONE, DESKTOP = 375, 1280

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # pages, not DB


def axe_source() -> str:
    """axe-core 4 from npm, installed into var/test-tools/ when missing (never skipped)."""
    if not AXE.exists():
        npm = ensure_command("npm", "npm")
        TOOLS.mkdir(parents=True, exist_ok=True)
        with open(TOOLS / ".install.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not AXE.exists():
                done = subprocess.run(
                    [
                        npm,
                        "install",
                        "--no-save",
                        "--no-audit",
                        "--no-fund",
                        "--prefix",
                        str(TOOLS),
                        "axe-core@4",
                    ],
                    capture_output=True,
                    text=True,
                    timeout=300,
                    check=False,
                )
                if done.returncode or not AXE.exists():
                    raise RuntimeError(f"npm install axe-core@4 failed:\n{done.stderr[-2000:]}")
    return AXE.read_text(encoding="utf-8")


class Browser:
    """One page of a headless Chromium, driven over the DevTools protocol."""

    def __init__(self, binary: str, profile: Path) -> None:
        self.process = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        # With port 0 Chromium picks a free port and writes it into the profile.
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (active.exists() and active.read_text().strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"Chromium did not start:\n{self._stderr()}")
            time.sleep(0.1)
        port = int(active.read_text().split()[0])
        pages = [
            t
            for t in httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
            if t["type"] == "page"
        ]
        self.socket = websocket.create_connection(
            pages[0]["webSocketDebuggerUrl"],
            timeout=120,
            suppress_origin=True,
            enable_multithread=True,
        )
        self.next_id = 0

    def _stderr(self) -> str:
        try:
            return self.process.stderr.read().decode(errors="replace")[-2000:]
        except (OSError, ValueError):
            return ""

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:  # events arrive in between; skip them
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str):
        result = self.call(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str, width: int = DESKTOP, height: int = 900) -> None:
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=width < 600,
        )
        # Mark the current document: the same URL again must not count as loaded before the
        # new document replaced the marked one.
        self.evaluate("window.__previousDocument = true")
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + 30
        state = "(window.__previousDocument ? 'old' : document.readyState) + ' ' + location.href"
        while True:
            try:
                if self.evaluate(state) == f"complete {url}":
                    return
            except RuntimeError:  # the old document's context went away mid-call
                pass
            assert time.monotonic() < deadline, f"{url} did not load within 30 s"
            time.sleep(0.05)

    def screenshot(self, path: Path, width: int) -> None:
        """The whole page at `width` CSS pixels as a PNG."""
        height = self.evaluate("document.documentElement.scrollHeight")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=min(height, 4000),
            deviceScaleFactor=1,
            mobile=width < 600,
        )
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        if getattr(self, "socket", None) is not None:
            self.socket.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    binary = shutil.which("chromium") or ensure_command("chromium", "chromium")
    profile = Path(tempfile.mkdtemp(prefix="chromium-", dir=tmp_path))
    opened = Browser(binary, profile)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def sample_site(db, site_dir: Path) -> Iterator[str]:
    """The sample content rendered as `newsroom seed` + rebuild do, served over HTTP."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # no access log in the test output
            pass

    site_dir.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=site_dir))
    base = f"http://127.0.0.1:{server.server_address[1]}"
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    # One item with an image and attachments, served from here: the browser stays local.
    data["items"][0] = {
        **data["items"][0],
        "image": {"url": f"{base}/bilder/forrad.svg", "alt": "Sjukhusets förråd med skyddsrockar"},
        "attachments": [{"title": "Åtgärdsplan 2021", "url": f"{base}/bilagor/plan.pdf"}],
    }
    with session_scope() as session:
        seed(session=session, items=data["items"], pages=data["pages"])
    rebuild(site_dir=site_dir)
    (site_dir / "bilder").mkdir()
    (site_dir / "bilder" / "forrad.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="960" height="540">'
        '<rect width="960" height="540" fill="#9bb7a8"/></svg>'
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()


def representative_pages(site_dir: Path) -> list[str]:
    """One page of every template: lists, an item, archive, month, region, topic, forms."""

    def first(pattern: str) -> str:
        found = sorted(site_dir.glob(pattern))
        assert found, f"no {pattern} in the site"
        return "/" + found[0].parent.relative_to(site_dir).as_posix() + "/"

    [illustrated] = [
        page
        for page in sorted(site_dir.glob("aktuellt/*/*/*/index.html"))
        if "<img " in page.read_text(encoding="utf-8")
    ]
    item = "/" + illustrated.parent.relative_to(site_dir).as_posix() + "/"
    return [
        "/",
        "/aktuellt/",
        item,
        "/arkiv/",
        first("arkiv/*/*/index.html"),
        first("region/*/index.html"),
        first("amne/*/index.html"),
        "/prenumerera/",
        "/vision/",
        "/404.html",
    ]


def readable(path: str, violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{path}: [{violation['impact']}] {violation['id']}: {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {' '.join(node['target'])}: {node['html'][:160]}")
            if node.get("failureSummary"):
                lines.append("      " + node["failureSummary"].replace("\n", "\n      "))
    return "\n".join(lines)


def test_axe_core_finds_no_wcag_21_aa_violations(sample_site, site_dir, browser):
    source = axe_source()
    options = json.dumps({"runOnly": {"type": "tag", "values": WCAG_21_AA}})
    report, checked = [], {}
    for path in representative_pages(site_dir):
        for width in (DESKTOP, PHONE):
            browser.open(sample_site + path, width=width)
            browser.evaluate(source)
            result = browser.evaluate(
                f"axe.run(document, {options}).then(r => ({{violations: r.violations, "
                f"passes: r.passes.length, version: axe.version}}))"
            )
            checked[f"{path} @{width}"] = result["passes"]
            if result["violations"]:
                report.append(readable(f"{path} @{width}px", result["violations"]))
            # Nothing wider than the screen: a phone reader never scrolls sideways.
            overflow = browser.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            if overflow > 0:
                report.append(f"{path} @{width}px: page is {overflow} px wider than the screen")
    assert not report, "\n".join(report)
    assert len(checked) == 20 and all(passes > 10 for passes in checked.values()), checked
    print(f"axe-core {result['version']}: no violations on {len(checked)} page views")


def test_front_page_at_phone_and_desktop_width(sample_site, site_dir, browser, tmp_path):
    shots = {}
    for name, width in (("phone", PHONE), ("desktop", DESKTOP)):
        browser.open(sample_site + "/", width=width, height=812 if width == PHONE else 900)
        # What a reader sees first, then the whole page.
        shots[f"{name}-first-screen"] = tmp_path / f"front-{name}-{width}-first-screen.png"
        shots[f"{name}-first-screen"].write_bytes(
            base64.b64decode(browser.call("Page.captureScreenshot", format="png")["data"])
        )
        shots[name] = tmp_path / f"front-{name}-{width}.png"
        browser.screenshot(shots[name], width)
        # The main column fits the screen, and its text is large enough to read on a phone.
        main = browser.evaluate(
            "(() => { const r = document.querySelector('main').getBoundingClientRect();"
            " return {left: r.left, right: r.right,"
            " font: parseFloat(getComputedStyle(document.body).fontSize)}; })()"
        )
        assert main["left"] >= 0 and main["right"] <= width, (name, main)
        assert main["font"] >= 16, (name, main)
    # The pages with most on them, at phone width, to look at beside the front page.
    item, subscribe = representative_pages(site_dir)[2], "/prenumerera/"
    for name, path in (("item", item), ("subscribe", subscribe)):
        browser.open(sample_site + path, width=PHONE, height=812)
        shots[name] = tmp_path / f"{name}-phone-{PHONE}.png"
        browser.screenshot(shots[name], PHONE)
    for shot in shots.values():
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 5000
    print("screenshots:", *shots.values())
