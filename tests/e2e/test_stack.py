"""docker-compose.yml's topology as local processes, each command read from the file itself:
migrate and rebuild once, ingest and notify under uvicorn, two render and two notify workers,
beat, and nginx in front. Everything goes through nginx, as a reader and a contributor would."""

from __future__ import annotations

import gzip
import html
import json
import re
import select
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from deploy import stack
from tests.e2e.conftest import Processes, eventually, link_in, path_of, token_from
from tests.e2e.scenario import journey
from tests.editor.conftest import code_and_link, csrf
from tests.integration.test_render_site import snapshot
from tests.servers import free_port, wait_for_port

EDITOR = "anna.strom@regionskane.se"

pytestmark = pytest.mark.e2e

SUBSCRIBERS = ["kerstin.aberg@example.se", "olof.nilsson@example.se"]
# Subscription requests per client address and minute: the journey's and SUBSCRIBERS' fit.
SUBSCRIBE_LIMIT = 5
MORE_ITEMS = [
    {
        "title": f"Nyhet {n} om hållbara textilier i Östergötland",
        "summary": "Kort om läget.",
        "body": f"Stycke **{n}** med å, ä och ö.",
        "published_at": f"2021-05-0{n}T10:00:00+02:00",
        "regions": ["region-skane"],
        "topics": ["textilier"],
    }
    for n in range(1, 5)
]


def _start(processes: Processes, name: str, argv: list[str], env: dict[str, str]) -> None:
    log = open(processes.logdir / f"{name}.log", "wb")
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=stack.ROOT)
    processes.children.append((name, proc))


def _healthy(argv: list[str], env: dict[str, str]) -> bool:
    try:
        return subprocess.run(argv, env=env, capture_output=True, timeout=60).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def test_compose_topology_as_processes_with_two_workers_of_each_kind(
    processes: Processes, tmp_path: Path, postgres_url: str, redis_url: str, smtp_server
):
    compose = stack.load()
    services = compose["services"]
    site = tmp_path / "site"
    web_port = free_port()
    web = f"http://127.0.0.1:{web_port}"
    local = stack.Local(
        site_dir=site,
        workdir=tmp_path / "stack",
        ports={8001: free_port(), 8002: free_port()},
        concurrency=1,
    )  # four workers on two cores: one process each
    overrides = {
        "NEWSROOM_DATABASE_URL": postgres_url,
        "NEWSROOM_BROKER_URL": redis_url,
        "NEWSROOM_SITE_DIR": str(site),
        "NEWSROOM_BASE_URL": web,
        "NEWSROOM_MAIL_FROM": "Hållbar upphandling <nyheter@example.se>",
        # Each item its own newsletter, counted below (windows: tests/faults/test_faults_bursts.py).
        "NEWSROOM_IMMEDIATE_WINDOW": "0",
    }
    # What compose mounts under /run/secrets/, as files of this user (the stores need none).
    stack.write_secrets(
        local,
        {
            "secret_key": "stack-test-secret-not-the-placeholder",
            "smtp_url": smtp_server.url,
            "postgres_password": "",
            "redis_password": "",
        },
    )
    base_env = {
        **processes.env,
        "TMPDIR": str(tmp_path),
        "HOSTNAME": socket.gethostname(),  # what `-n render@%h` and the health checks use
        "NEWSROOM_BEAT_HEARTBEAT": str(tmp_path / "beat.heartbeat"),
        "NEWSROOM_SUBSCRIBE_PER_IP_PER_MINUTE": str(SUBSCRIBE_LIMIT),
    }
    app = [n for n in stack.start_order(compose) if stack.is_app_service(services[n])]
    scale = {"render-worker": 2, "notify-worker": 2}

    def env_of(name: str, instance: int | None = None) -> dict[str, str]:
        return {
            **base_env,
            **stack.process_environment(
                compose, name, overrides, local, instance=instance, metrics_port=free_port()
            ),
        }

    started = time.monotonic()
    # The one-shot services, in dependency order, each to completion (migrate, rebuild).
    for name in app:
        if stack.is_one_shot(services[name]):
            done = subprocess.run(
                stack.service_command(compose, name, local),
                env=env_of(name),
                cwd=stack.ROOT,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, f"{name}:\n{done.stdout}\n{done.stderr}"
    one_shots = time.monotonic() - started
    assert (site / "index.html").exists(), "rebuild renders the site before anything serves it"
    processes.env = env_of("ingest")
    token = token_from(
        processes.run(
            str(stack.Local.program(local, "newsroom")),
            "contributor",
            "add",
            "Anna Ström",
            "--region",
            "region-skane",
            "--email",
            EDITOR,
        )
    )

    checks: list[tuple[str, list[str], dict[str, str]]] = []
    metrics_ports: dict[str, int] = {}
    for name in app:
        if stack.is_one_shot(services[name]):
            continue
        count = scale.get(name, 1)
        for n in range(1, count + 1):
            instance = n if count > 1 else None
            env = env_of(name, instance)
            label = f"{name}-{n}" if instance else name
            _start(
                processes,
                label,
                stack.service_command(compose, name, local, instance=instance),
                env,
            )
            checks.append(
                (label, stack.healthcheck_command(compose, name, local, instance=instance), env)
            )
            if "NEWSROOM_METRICS_PORT" in env:
                metrics_ports[label] = int(env["NEWSROOM_METRICS_PORT"])
    nginx_conf = tmp_path / "nginx.conf"
    nginx_conf.write_text(stack.nginx_config(compose, local, listen=web_port))
    _start(
        processes, "web", stack.nginx_command(nginx_conf, tmp_path / "stack" / "nginx"), base_env
    )
    wait_for_port("127.0.0.1", web_port, timeout=30)

    # Every health check of docker-compose.yml passes against the local processes.
    def healthy(check: tuple[str, list[str], dict[str, str]]) -> str:
        label, argv, env = check
        deadline = time.monotonic() + 120
        # A check is a Python process of its own (seconds of CPU): pace them while all start.
        while not _healthy(argv, env):
            assert time.monotonic() < deadline, f"{label} not healthy within 120 s"
            time.sleep(2)
        return f"{label} {time.monotonic() - started:.1f} s"

    for port in (local.port(8001), local.port(8002)):
        wait_for_port("127.0.0.1", port, timeout=120)

    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        print("healthy:", ", ".join(pool.map(healthy, checks)))
    assert httpx.get(f"{web}/healthz").status_code == 200
    startup = time.monotonic() - started

    def fetch(path: str) -> str:
        answer = httpx.get(f"{web}{path}", timeout=10)
        answer.raise_for_status()
        return answer.text

    # The walking-skeleton journey, with both APIs and the site behind nginx.
    journey(
        ingest=web,
        notify=web,
        search=web,
        token=token,
        fetch_site=fetch,
        mails_to=smtp_server.to,
    )

    # Redaktionen is served by ingest behind nginx, its script allowed by every CSP it gets.
    editor = httpx.get(f"{web}/redaktion/logga-in", timeout=10)
    assert editor.status_code == 200 and "E-postadress" in editor.text
    policies = editor.headers.get_list("content-security-policy")
    assert policies and all("script-src 'self'" in policy for policy in policies), policies
    write_preview_and_publish_in_redaktionen(web, smtp_server, fetch)

    # More subscribers and items, posted at once, land once each on the two-of-each workers.
    for address in SUBSCRIBERS:
        answer = httpx.post(
            f"{web}/api/v1/subscriptions",
            timeout=10,
            json={
                "email": address,
                "regions": ["region-skane"],
                "topics": [],
                "frequency": "immediate",
            },
        )
        assert answer.status_code == 202, answer.text
    for address in SUBSCRIBERS:
        [confirmation] = eventually(lambda a=address: smtp_server.to(a), what="confirmation")
        assert httpx.post(f"{web}{path_of(link_in(confirmation, 'bekrafta'))}").status_code == 200
    request_ids = []
    for item in MORE_ITEMS:
        created = httpx.post(
            f"{web}/api/v1/items",
            json=item,
            timeout=10,
            headers={
                "Authorization": f"Bearer {token}",
                "X-Request-ID": f"stack-test-{item['published_at'][:10]}",
            },
        )
        assert created.status_code == 201, created.text
        request_ids.append(created.headers["x-request-id"])
    assert request_ids[0] == "stack-test-2021-05-01"  # nginx passes the client's id through
    paths = [
        path_of(
            httpx.get(
                f"{web}/api/v1/items?topic=textilier", headers={"Authorization": f"Bearer {token}"}
            ).json()["items"][i]["url"]
        )
        for i in range(len(MORE_ITEMS))
    ]

    def newsletters(address: str) -> list:
        return [m for m in smtp_server.to(address) if "Nyhet" in str(m["Subject"])]

    for address in SUBSCRIBERS:
        eventually(
            lambda a=address: len(newsletters(a)) >= len(MORE_ITEMS),
            what=f"newsletters to {address}",
        )
    for path in paths:
        eventually(lambda p=path: fetch(p), what=path)

    # The site the workers converged on is byte for byte what one rebuild writes.
    rebuilt = tmp_path / "rebuilt"
    done = subprocess.run(
        [stack.Local.program(local, "newsroom"), "rebuild"],
        env={**processes.env, "NEWSROOM_SITE_DIR": str(rebuilt)},
        cwd=stack.ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    expected = snapshot(rebuilt)
    eventually(lambda: snapshot(site) == expected, timeout=30, what="site equals rebuild")

    # Each subscriber got each newsletter exactly once, whichever worker sent it.
    for address in SUBSCRIBERS:
        subjects = [str(m["Subject"]) for m in newsletters(address)]
        assert len(subjects) == len(set(subjects)) == len(MORE_ITEMS), subjects

    # nginx: ETag and 304, gzip, feed types, security headers.
    page = httpx.get(f"{web}{paths[0]}")
    assert page.headers["etag"] and "no-cache" in page.headers["cache-control"]
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    again = httpx.get(f"{web}{paths[0]}", headers={"If-None-Match": page.headers["etag"]})
    assert again.status_code == 304
    raw = httpx.get(f"{web}/aktuellt/", headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    with httpx.stream("GET", f"{web}/rss.xml", headers={"Accept-Encoding": "gzip"}) as feed:
        assert feed.headers["content-encoding"] == "gzip"
        assert b"Nyhet 4" in gzip.decompress(b"".join(feed.iter_raw()))
    assert httpx.get(f"{web}/feed.json").headers["content-type"].startswith("application/feed+json")
    assert httpx.get(f"{web}/finns-inte/").status_code == 404
    assert httpx.get(f"{web}/api/v1/regions").json()

    # Metrics: the APIs' requests and outbox, the workers' renders and mails.
    ingest_metrics = httpx.get(f"http://127.0.0.1:{local.port(8001)}/metrics").text
    assert (
        'newsroom_http_requests_total{method="POST",route="/api/v1/items",status="201"}'
        in ingest_metrics
    )
    assert "newsroom_outbox_lag_seconds" in ingest_metrics
    renders = sum(
        _sample(
            httpx.get(f"http://127.0.0.1:{metrics_ports[w]}/metrics").text,
            "newsroom_render_duration_seconds_count",
        )
        for w in ("render-worker-1", "render-worker-2")
    )
    assert renders >= len(MORE_ITEMS) + 1
    mails = sum(
        _sample(
            httpx.get(f"http://127.0.0.1:{metrics_ports[w]}/metrics").text,
            "newsroom_mails_sent_total",
        )
        for w in ("notify-worker-1", "notify-worker-2")
    )
    assert mails >= len(MORE_ITEMS) * len(SUBSCRIBERS) + 1

    # JSON logs: the request id next to the event id it recorded, that event id in a worker.
    ingest_log = _json_lines(processes.logdir / "ingest.log")
    recorded = [e for e in ingest_log if e.get("request_id") == request_ids[0] and "event_id" in e]
    assert recorded, "ingest logs the event it records with the request id"
    event_id = recorded[0]["event_id"]
    worker_logs = [
        e
        for w in ("render-worker-1", "render-worker-2")
        for e in _json_lines(processes.logdir / f"{w}.log")
    ]
    assert any(e.get("event_id") == event_id for e in worker_logs)
    _nginx_hardening(web, web_port, token)
    total = time.monotonic() - started
    print(f"one-shots {one_shots:.1f} s, healthy after {startup:.1f} s, all in {total:.1f} s")


def _nginx_hardening(web: str, web_port: int, token: str) -> None:
    """deploy/nginx.conf in front of the APIs and the site (issues 12 and 13)."""
    # A withdrawn item: render puts its gone page (410.html) in place of its page, and nginx
    # answers its URL 410 Gone with that page.
    writer = {"Authorization": f"Bearer {token}"}
    created = httpx.post(
        f"{web}/api/v1/items",
        json={
            "title": "Nyhet som dras tillbaka",
            "summary": "Den här nyheten återkallas.",
            "body": "Text.",
            "regions": ["region-skane"],
            "topics": [],
        },
        headers=writer,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    item = created.json()
    path = path_of(item["url"])
    eventually(lambda: httpx.get(f"{web}{path}").status_code == 200, what=path)
    withdrawn = httpx.delete(f"{web}/api/v1/items/{item['id']}", headers=writer, timeout=10)
    assert withdrawn.status_code == 200, withdrawn.text
    eventually(lambda: httpx.get(f"{web}{path}").status_code == 410, what=f"410 at {path}")
    for url in (path, path.rstrip("/")):
        answer = httpx.get(f"{web}{url}")
        assert answer.status_code == 410 and "dragits tillbaka" in answer.text, url
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(f"{web}{path}410.html").status_code == 404
    assert httpx.get(f"{web}/aktuellt/").status_code == 200

    # Redirects name the path only, never a host or the internal port.
    moved = httpx.get(f"{web}/aktuellt", follow_redirects=False)
    assert moved.status_code == 301 and moved.headers["location"] == "/aktuellt/"

    # Token pages keep the app's no-store and its one Referrer-Policy through nginx.
    token_page = httpx.get(f"{web}/prenumeration/avregistrera?token=trasig")
    assert token_page.headers["cache-control"] == "no-store"
    assert token_page.headers.get_list("referrer-policy") == ["no-referrer"]
    assert httpx.get(f"{web}/").headers.get_list("referrer-policy") == [
        "strict-origin-when-cross-origin"
    ]

    # API documentation: Swagger UI from the APIs themselves, allowed by the docs' CSP only.
    for docs in ("/api/docs", "/api/notify/docs"):
        page = httpx.get(f"{web}{docs}")
        assert page.status_code == 200, docs
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert httpx.get(f"{web}{docs}/swagger-ui-bundle.js").status_code == 200
    assert "script-src 'none'" in httpx.get(f"{web}/").headers["content-security-policy"]
    from tests.tools import ensure_command

    dom = subprocess.run(
        [
            ensure_command("chromium", "chromium"),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=10000",
            "--dump-dom",
            f"{web}/api/docs",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert 'data-path="/api/v1/items"' in dom

    # X-Forwarded-For from a client is replaced by nginx: ten spoofed posts past the
    # per-address limit are refused like the client's own.
    url = f"{web}/api/v1/subscriptions"
    for n in range(SUBSCRIBE_LIMIT):
        httpx.post(url, json={"email": f"egen{n}@example.se"}, timeout=10)
    spoofed = [
        httpx.post(
            url,
            json={"email": f"falsk{n}@example.se"},
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
            timeout=10,
        ).status_code
        for n in range(10)
    ]
    assert spoofed == [429] * 10

    # Slow clients: uploads that never finish, from one address, get 429 past the limit of
    # connections per address; another address is served meanwhile.
    slow = []
    try:
        for _ in range(40):
            sock = socket.socket()
            sock.bind(("127.0.0.2", 0))
            sock.connect(("127.0.0.1", web_port))
            sock.sendall(
                b"POST /api/v1/subscriptions HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
            )
            slow.append(sock)
        # Within a few seconds every connection past the limit is answered 429 and closed
        # (closing with the upload unread may reset it); those within it are still being read.
        refused = 0
        waiting = list(slow)
        deadline = time.monotonic() + 5
        while waiting and time.monotonic() < deadline:
            readable, _, _ = select.select(waiting, [], [], 0.5)
            for sock in readable:
                waiting.remove(sock)
                try:
                    refused += sock.recv(64).startswith(b"HTTP/1.1 429")
                except ConnectionResetError:
                    refused += 1
        assert refused >= 40 - 20, refused
        other = socket.create_connection(("127.0.0.1", web_port), source_address=("127.0.0.3", 0))
        other.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        assert other.recv(64).startswith(b"HTTP/1.1 200")
        other.close()
    finally:
        for sock in slow:
            sock.close()


def _sample(text: str, name: str) -> float:
    return sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith(name + " ") or line.startswith(name + "{")
    )


def _json_lines(path: Path) -> list[dict]:
    entries = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                entries.append(json.loads(line))
            except ValueError:
                pass
    return entries


def write_preview_and_publish_in_redaktionen(web: str, smtp_server, fetch) -> None:
    """Redaktionen in the distributed mode, as its forms are posted without JavaScript: sign
    in with the mailed code, preview (render's and notify's workers answer through Redis),
    publish, and the item is on the site."""
    title = "Uppföljning av leverantörer i Skåne"
    with httpx.Client(base_url=web, timeout=20, follow_redirects=True) as browser:
        token = csrf(browser.get("/redaktion/logga-in").text)
        answer = browser.post("/redaktion/logga-in", data={"epost": EDITOR, "csrftoken": token})
        assert answer.status_code == 200, answer.text
        [mail] = eventually(lambda: smtp_server.to(EDITOR), what="the sign-in code")
        code, _ = code_and_link(mail)
        answer = browser.post("/redaktion/logga-in/kod", data={"kod": code, "csrftoken": token})
        assert answer.status_code == 200 and "Logga ut" in answer.text, answer.text
        form = {
            "rubrik": title,
            "sammanfattning": "Nätverket följer upp leverantörer av handskar.",
            "text": "Tre **fabriker** besöktes.",
            "regioner": "region-skane",
            "amnen": ["uppfoljning"],
            "skicka": "ja",
            "version": "",
            "csrftoken": token,
        }
        preview = browser.post("/redaktion/nyheter/ny", data={**form, "atgard": "forhandsgranska"})
        assert preview.status_code == 200, preview.text
        frame = re.search(r'<iframe class="preview-frame[^"]*" src="([^"]+)"', preview.text)
        page = browser.get(html.unescape(frame.group(1)))
        assert page.status_code == 200 and f"<h1>{title}</h1>" in page.text
        published = browser.post("/redaktion/nyheter/ny", data={**form, "atgard": "publicera"})
        assert published.status_code == 200 and "Nyheten är publicerad." in published.text
    eventually(lambda: title in fetch("/aktuellt/"), what="the item from Redaktionen on the site")
