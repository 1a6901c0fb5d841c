"""Uploads against a real ingest server (uvicorn on a free port): a 60 MB body is refused
while it is still being sent, and 20 concurrent uploads of one file store it once."""

from __future__ import annotations

import select
import socket
import threading
from urllib.parse import urlsplit

import httpx

from services.ingest import media
from shared.models import Media, MediaFile
from tests import media_samples as samples
from tests.integration.test_ingest_api import auth, count, make_token
from tests.integration.test_ingest_authoring import server  # noqa: F401

MB = 1_048_576


def connect(server: str) -> socket.socket:
    address = urlsplit(server)
    sock = socket.socket()
    # A small send buffer keeps what the client has "sent" close to what the server has
    # been handed, as over a real network.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 256 * 1024)
    sock.settimeout(10)
    sock.connect((address.hostname, address.port))
    return sock


def read_answer(sock: socket.socket) -> bytes:
    """The status line and headers (and what came with them) of the server's answer."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        data = sock.recv(65536)
        if not data:
            break
        answer += data
    return answer


def request_head(server: str, token: str, extra: str) -> bytes:
    address = urlsplit(server)
    return (
        f"POST /api/v1/media HTTP/1.1\r\nHost: {address.netloc}\r\n"
        f"Authorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary=grans\r\n{extra}\r\n"
    ).encode()


PART_HEAD = (
    b'--grans\r\nContent-Disposition: form-data; name="file"; filename="stor.pdf"\r\n'
    b"Content-Type: application/pdf\r\n\r\n%PDF-1.7\n"
)


def test_a_60_mb_upload_is_refused_before_the_client_has_sent_it(server):
    token = make_token()
    total = 60 * MB
    sent = 0
    with connect(server) as sock:
        # No Content-Length: the server learns the size only as the chunks arrive.
        sock.sendall(request_head(server, token, "Transfer-Encoding: chunked\r\n"))

        def send(data: bytes) -> None:
            sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))

        send(PART_HEAD)
        sent = len(PART_HEAD)
        chunk = b"0" * (256 * 1024)
        while sent < total:
            # A slow client: it looks for an answer before each quarter megabyte it sends.
            if select.select([sock], [], [], 0.002)[0]:
                break
            try:
                send(chunk)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break  # the server stopped reading
            sent += len(chunk)
        answer = read_answer(sock)

    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"application/problem+json" in answer
    # Answered while megabytes were still unsent: the limit (50 MB) plus what the
    # kernel's socket buffers held had reached the server, not the whole body.
    assert sent < total - MB
    assert count(Media) == 0 and count(MediaFile) == 0


def test_a_declared_60_mb_upload_is_refused_before_its_body_is_sent(server):
    token = make_token()
    with connect(server) as sock:
        sock.sendall(request_head(server, token, f"Content-Length: {60 * MB}\r\n"))
        answer = read_answer(sock)  # not one byte of the body sent
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert "Begäran är större än 50 MB.".encode() in answer


def test_twenty_concurrent_uploads_of_one_file_store_it_once(server, monkeypatch):
    # Room for all twenty at once in this process, as if each ran in a process of its own:
    # then only the database's unique constraint can keep the file from being stored twice.
    monkeypatch.setattr(media, "PROCESSING", threading.BoundedSemaphore(20))
    tokens = [make_token(name=f"Skribent {n}") for n in range(20)]
    data = samples.encode(samples.photo(640, 480), "JPEG")
    start = threading.Barrier(20)
    answers: list[httpx.Response] = []

    def post(token: str) -> None:
        start.wait()
        answers.append(
            httpx.post(
                server + "/api/v1/media",
                files={"file": ("samma.jpg", data, "image/jpeg")},
                headers=auth(token),
                timeout=120,
            )
        )

    threads = [threading.Thread(target=post, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [answer.status_code for answer in answers] == [201] * 20, [
        answer.text for answer in answers if answer.status_code != 201
    ]
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert count(Media) == 1
    assert count(MediaFile) == 1 + 3 * 2 + 1  # original, 3 formats x (480, 640), mail JPEG


def test_uploads_of_one_file_waiting_for_the_processing_slot_find_it_stored(server, monkeypatch):
    # The default: one image processed at a time per process; the others wait for the slot
    # (in the event loop), then find the file the first one stored and process nothing.
    prepared = []
    prepare = media.prepare
    monkeypatch.setattr(media, "prepare", lambda **kw: prepared.append(1) or prepare(**kw))
    token = make_token()
    data = samples.encode(samples.photo(900, 600), "JPEG")
    start = threading.Barrier(5)
    answers: list[httpx.Response] = []

    def post() -> None:
        start.wait()
        answers.append(
            httpx.post(
                server + "/api/v1/media",
                files={"file": ("samma.jpg", data, "image/jpeg")},
                headers=auth(token),
                timeout=120,
            )
        )

    threads = [threading.Thread(target=post) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [answer.status_code for answer in answers] == [201] * 5
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert len(prepared) == 1
    assert count(Media) == 1
