"""An XSS corpus (OWASP filter-evasion payloads) through every text field of an item: the
rendered pages and the newsletter HTML, opened in Chromium (Playwright), run nothing."""

from __future__ import annotations

import email
import email.policy
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Page

from services.ingest import api, deps
from shared.config import get_settings
from shared.db import session_scope, utcnow
from shared.ratelimit import RateLimiter
from tests.integration.test_ingest_api import auth, make_token
from tests.integration.test_notify_support import add_subscribers, published

# After OWASP's XSS Filter Evasion Cheat Sheet: each calls alert/confirm/prompt if it runs.
PAYLOADS = [
    "<script>alert('XSS')</script>",
    "<SCRIPT SRC=http://xss.invalid/xss.js></SCRIPT>",
    "javascript:/*--></title></style></textarea></script></xmp>"
    "<svg/onload='+/\"/+/onmouseover=1/+/[*/[]/+alert(1)//'>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<IMG SRC=javascript:alert('XSS')>",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<IMG SRC=`javascript:alert(\"RSnake says, 'XSS'\")`>",
    '<a onmouseover="alert(document.cookie)">xxs link</a>',
    '<IMG """><SCRIPT>alert("XSS")</SCRIPT>"\\>',
    "<IMG SRC=javascript:alert(String.fromCharCode(88,83,83))>",
    "<IMG SRC=# onmouseover=\"alert('xxs')\">",
    '<IMG SRC=/ onerror="alert(String.fromCharCode(88,83,83))"></img>',
    '<img src=x onerror="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114'
    "&#0000105&#0000112&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116"
    '&#0000040&#0000039&#0000088&#0000083&#0000083&#0000039&#0000041">',
    "<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;"
    "&#101;&#114;&#116;&#40;&#39;&#88;&#83;&#83;&#39;&#41;>",
    "<IMG SRC=&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A&#x61&#x6C&#x65&#x72"
    "&#x74&#x28&#x27&#x58&#x53&#x53&#x27&#x29>",
    "<IMG SRC=\"jav\tascript:alert('XSS');\">",
    "<IMG SRC=\"jav&#x09;ascript:alert('XSS');\">",
    "<IMG SRC=\"jav&#x0A;ascript:alert('XSS');\">",
    "<IMG SRC=\" &#14;  javascript:alert('XSS');\">",
    '<SCRIPT/XSS SRC="http://xss.invalid/xss.js"></SCRIPT>',
    '<BODY onload!#$%&()*~+-_.,:;?@[/|\\]^`=alert("XSS")>',
    '<<SCRIPT>alert("XSS");//\\<</SCRIPT>',
    "<SCRIPT SRC=//xss.invalid/.j>",
    "<IMG SRC=\"`<javascript:alert>`('XSS')\"",
    '</TITLE><SCRIPT>alert("XSS");</SCRIPT>',
    '<INPUT TYPE="IMAGE" SRC="javascript:alert(\'XSS\');">',
    "<BODY BACKGROUND=\"javascript:alert('XSS')\">",
    "<IMG DYNSRC=\"javascript:alert('XSS')\">",
    "<STYLE>li {list-style-image: url(\"javascript:alert('XSS')\");}</STYLE><UL><LI>XSS</br>",
    "<svg/onload=alert('XSS')>",
    "<BODY ONLOAD=alert('XSS')>",
    "<IFRAME SRC=\"javascript:alert('XSS');\"></IFRAME>",
    '<IFRAME SRC=# onmouseover="alert(document.cookie)"></IFRAME>',
    "<FRAMESET><FRAME SRC=\"javascript:alert('XSS');\"></FRAMESET>",
    "<TABLE BACKGROUND=\"javascript:alert('XSS')\">",
    "<DIV STYLE=\"background-image: url(javascript:alert('XSS'))\">",
    "<DIV STYLE=\"width: expression(alert('XSS'));\">",
    '<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert(\'XSS\');">',
    '<META HTTP-EQUIV="refresh" CONTENT="0;url=data:text/html base64,'
    'PHNjcmlwdD5hbGVydCgnWFNTJyk8L3NjcmlwdD4K">',
    '<OBJECT TYPE="text/x-scriptlet" DATA="http://xss.invalid/scriptlet.html"></OBJECT>',
    '<EMBED SRC="data:image/svg+xml;base64,PHN2ZyB4bWxuczpzdmc9Imh0dH A6Ly93d3cudzMub3JnLzIwMDA'
    "vc3ZnIiB4bWxucz0iaHR0cDovL3d3dy53My5vcmcv MjAwMC9zdmciIHhtbG5zOnhsaW5rPSJodHRwOi8vd3d3LnczLm9"
    "yZy8xOTk5L3hs aW5rIiB2ZXJzaW9uPSIxLjAiIHg9IjAiIHk9IjAiIHdpZHRoPSIxOTQiIGhlaWdodD0iMjAw IiBpZD0"
    'ieHNzIj48c2NyaXB0IHR5cGU9InRleHQvZWNtYXNjcmlwdCI+YWxlcnQoIlh TUyIpOzwvc2NyaXB0Pjwvc3ZnPg==" '
    'type="image/svg+xml" AllowScriptAccess="always"></EMBED>',
    '<a href="javascript:alert(1)">klick</a>',
    "[klick](javascript:alert(1))",
    "[klick](JaVaScRiPt:alert(1))",
    "![bild](javascript:alert(1))",
    "[klick](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<details open ontoggle=alert(1)>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "{{7*7}}<script>alert(1)</script>",
    "<form><button formaction=javascript:alert(1)>X</button></form>",
    '<video><source onerror="alert(1)"></video>',
    "<x onclick=alert(1) style=display:block>klick",
]

HOOK = """
window.__xss = [];
for (const name of ['alert', 'confirm', 'prompt', 'print']) {
  const record = (...args) => { window.__xss.push(name + ':' + args.join(',')); };
  try { Object.defineProperty(window, name, {value: record, writable: false}); } catch (e) {}
}
"""


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """What reaches the browser does not depend on the database: SQLite only, for speed."""
    return sqlite_url


# Focus and hover everything, so handlers waiting on an event get their chance; then what ran.
PROVOKE = """() => {
  for (const el of document.querySelectorAll('*')) {
    for (const type of ['mouseover', 'focus', 'click', 'toggle', 'error']) {
      if (type === 'click' && el.closest('a')) continue;  // no navigation away
      try { el.dispatchEvent(new Event(type)); } catch (e) {}
    }
  }
  return new Promise(r => setTimeout(() => r(window.__xss || []), 50));
}"""


class Browser:
    """One Chromium tab with the hook in every document; `open` loads a page and says what ran."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.dialogs: list[str] = []
        page.context.add_init_script(HOOK)
        page.on("dialog", self._dialog)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.accept()

    def open(self, url: str) -> list[str]:
        self.dialogs.clear()
        self.page.goto(url, wait_until="load")
        recorded = self.page.evaluate(PROVOKE)
        return recorded + [f"dialog:{m}" for m in self.dialogs]


@pytest.fixture
def tab(page: Page) -> Browser:
    return Browser(page)


def test_the_hook_sees_a_script_that_runs(tab, tmp_path):
    """A positive control: an unsanitized payload is caught, so silence below means safety."""
    page = tmp_path / "control.html"
    page.write_text(
        '<p>x</p><img src=nowhere onerror="alert(\'ran\')"><a onmouseover="confirm(2)">y</a>',
        encoding="utf-8",
    )
    assert set(tab.open(page.as_uri())) == {"alert:ran", "confirm:2"}


@pytest.fixture
def hostile_items(db, site_dir, monkeypatch):
    """Items with a payload in every text field, posted through the real ingest API."""
    from fastapi.testclient import TestClient

    monkeypatch.setattr(deps, "limiter", RateLimiter(rate=1000, burst=100_000))
    headers = auth(
        make_token(name="<script>alert('namn')</script>", region="region-skane", role="editor")
    )
    accepted, refused = [], 0
    with TestClient(api.create_app()) as client:
        for n, payload in enumerate(PAYLOADS):
            line = payload.replace("\t", " ").replace("\n", " ")  # one-line fields refuse them
            item = {
                "title": f"{line} {n}"[:200],
                "summary": line,
                "body": f"{payload}\n\n## {payload}\n\n> {payload}\n\n- {payload}",
                "published_at": f"2021-0{1 + n % 9}-1{n % 9}T09:00:00+02:00",
                "regions": ["region-skane"],
                "topics": ["handskar"],
                "author": {"name": line[:100], "email": "anna@example.se"},
                "attachments": [
                    {"title": line[:200], "url": f"https://example.se/a?q={quote(payload)}"[:2000]}
                ],
                "image": {
                    "url": f"https://example.se/b.png?q={quote(payload)}"[:2000],
                    "alt": line[:300],
                },
            }
            answer = client.post("/api/v1/items", json=item, headers=headers)
            if answer.status_code == 422:  # a field's own rule (length, charset): leave it out
                for field in ("author", "attachments", "image"):
                    item.pop(field)
                answer = client.post("/api/v1/items", json=item, headers=headers)
            assert answer.status_code == 201, answer.text
            accepted.append(answer.json())
            # URL fields with a script scheme must be refused outright.
            bad = {
                **item,
                "title": f"url {n}",
                "attachments": [{"title": "x", "url": "javascript:alert(1)"}],
            }
            refused += client.post("/api/v1/items", json=bad, headers=headers).status_code == 422
    assert refused == len(PAYLOADS)
    return accepted


def test_rendered_pages_run_nothing(tab, hostile_items, site_dir):
    from services.render.rebuild import rebuild

    rebuild(site_dir=site_dir)
    pages = sorted(site_dir.rglob("*.html"))
    assert len(pages) > len(PAYLOADS)
    print(f"\nXSS: {len(PAYLOADS)} payloads, {len(pages)} pages opened in Chromium")
    ran = {str(p.relative_to(site_dir)): got for p in pages if (got := tab.open(p.as_uri()))}
    assert ran == {}


def test_newsletter_html_runs_nothing(tab, hostile_items, tmp_path):
    from services.notify import newsletters, tasks

    add_subscribers("lasare@example.se")
    for item in hostile_items:
        with session_scope() as session:
            planned = newsletters.plan_item_newsletter(
                session=session, event=published(uuid.UUID(item["id"])), now=utcnow()
            )
        assert planned is not None
        tasks.deliver(newsletter=planned[0], subscriber_ids=planned[1])
    mails = sorted(Path(get_settings().mail_dir).glob("*.eml"))
    assert len(mails) == len(hostile_items)
    ran = {}
    for path in mails:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        html = message.get_body(preferencelist=("html",)).get_content()
        target = tmp_path / f"{path.stem}.html"
        target.write_text(html, encoding="utf-8")
        if got := tab.open(target.as_uri()):
            ran[path.name] = got
    assert ran == {}
