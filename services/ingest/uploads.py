"""One file received from a multipart/form-data body while it streams in: its type told from
its first bytes and its size limit enforced as the bytes arrive, so a body over the limit
is refused (413) long before it has all been sent."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from tempfile import SpooledTemporaryFile

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from shared.problems import Problem

FIELD = "file"
HEAD_BYTES = 64  # what `limit_for` sees of a file to tell its type
SPOOL_IN_MEMORY = 1_048_576  # larger files go to an unnamed temporary file on disk
# Boundaries, part headers and any small fields besides the file.
OVERHEAD_BYTES = 65_536
MAX_FIELDS = 20  # text fields kept beside the file
MAX_FIELD_BYTES = 4096


@dataclass(frozen=True)
class Limit:
    """How large a file of one type may be, and the Swedish answer when it is larger."""

    max_bytes: int
    detail: str


@dataclass
class Upload:
    """A received file: in memory or in an unnamed temporary file (gone when closed)."""

    file: SpooledTemporaryFile
    filename: str
    size: int
    sha256: str
    head: bytes
    # The form's other fields (Redaktionen's alt text, title, CSRF token), short text only.
    fields: dict[str, str] = field(default_factory=dict)

    def close(self) -> None:
        self.file.close()


def _problem(status: int, detail: str, field_name: str = FIELD) -> Problem:
    return Problem(status, detail, errors=[{"field": field_name, "message": detail}])


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: bytes = b""
    value: bytes = b""


class _Receiver:
    """The parser's callbacks: the `file` part to a spooled file, other parts kept as short
    text (MAX_FIELDS of at most MAX_FIELD_BYTES each; anything more is dropped)."""

    def __init__(self, limit_for: Callable[[bytes], Limit]) -> None:
        self.limit_for = limit_for
        self.part = _Part()
        self.is_file = False
        self.file: SpooledTemporaryFile | None = None
        self.filename = ""
        self.head = b""
        self.limit: Limit | None = None
        self.size = 0
        self.digest = hashlib.sha256()
        self.complete = False
        self.fields: dict[str, str] = {}
        self.field_name = ""
        self.field_value = b""

    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.part.name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.part.value += data[start:end]

    def on_header_end(self) -> None:
        self.part.headers[self.part.name.strip().lower()] = self.part.value.strip()
        self.part.name = self.part.value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.part.headers.get(b"content-disposition", b""))
        self.is_file = options.get(b"name") == FIELD.encode()
        if not self.is_file:
            self.field_name = options.get(b"name", b"").decode("utf-8", "replace")
            self.field_value = b""
            return
        if self.file is not None:
            raise _problem(400, "Skicka en fil per begäran.")
        self.file = SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
        self.filename = options.get(b"filename", b"").decode("utf-8", "replace")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.is_file:
            # Counted against the body's limit; kept only while short.
            if len(self.field_value) <= MAX_FIELD_BYTES:
                self.field_value += data[start:end][: MAX_FIELD_BYTES + 1]
            return
        chunk = data[start:end]
        self.size += len(chunk)
        if self.limit is None:
            self.head += chunk[: HEAD_BYTES - len(self.head)]
            if len(self.head) >= HEAD_BYTES:
                self.limit = self.limit_for(self.head)
        if self.limit is not None and self.size > self.limit.max_bytes:
            raise _problem(413, self.limit.detail)
        self.digest.update(chunk)
        # A synchronous write: into memory up to SPOOL_IN_MEMORY, then into the page cache
        # (microseconds for a network-sized chunk), cheaper than a thread hop per chunk.
        self.file.write(chunk)

    def on_part_end(self) -> None:
        if not self.is_file:
            if len(self.field_value) <= MAX_FIELD_BYTES and len(self.fields) < MAX_FIELDS:
                value = self.field_value.decode("utf-8", "replace")
                self.fields.setdefault(self.field_name, value)
            return
        self.is_file = False
        self.complete = True
        if self.size == 0:
            raise _problem(422, "Filen är tom.")
        if self.limit is None:  # a file shorter than HEAD_BYTES
            self.limit = self.limit_for(self.head)
            if self.size > self.limit.max_bytes:
                raise _problem(413, self.limit.detail)


async def receive(
    request: Request, *, max_body: int, limit_for: Callable[[bytes], Limit]
) -> Upload:
    """The `file` field of a multipart body, refused as soon as it breaks a limit.

    `limit_for` sees the file's first bytes: it refuses a type that is not taken (415) or
    tells the size limit of the type. The whole body may be at most `max_body` bytes,
    checked from Content-Length before anything is read and again while it streams.
    """
    media_type, params = parse_options_header(request.headers.get("content-type", ""))
    if media_type != b"multipart/form-data":
        raise _problem(
            415, "Skicka filen som multipart/form-data i fältet file.", field_name="body"
        )
    boundary = params.get(b"boundary")
    if not boundary:
        raise _problem(400, "Multipart-gränsen (boundary) saknas.", field_name="body")
    length = request.headers.get("content-length")
    too_large = f"Begäran är större än {max_body // 1_048_576} MB."
    if length is not None:
        if not length.isdigit():
            raise _problem(400, "Ogiltig Content-Length.", field_name="body")
        if int(length) > max_body:
            raise _problem(413, too_large, field_name="body")
    receiver = _Receiver(limit_for)
    callbacks = {
        name: getattr(receiver, name)
        for name in (
            "on_part_begin",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
            "on_part_data",
            "on_part_end",
        )
    }
    received = 0
    try:
        parser = MultipartParser(boundary, callbacks)
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_body:
                raise _problem(413, too_large, field_name="body")
            parser.write(chunk)
        parser.finalize()
        if receiver.file is None:
            raise _problem(422, "Välj en fil att ladda upp (fältet file).")
        if not receiver.complete:
            raise _problem(400, "Begäran tog slut mitt i filen.", field_name="body")
    except BaseException as exc:
        # Nothing of a refused upload is kept: the temporary file has no name and its
        # bytes are freed when it is closed.
        if receiver.file is not None:
            receiver.file.close()
        if isinstance(exc, FormParserError):
            raise _problem(400, "Begäran är inte giltig multipart/form-data.", "body") from None
        raise
    receiver.file.seek(0)
    return Upload(
        file=receiver.file,
        filename=receiver.filename,
        size=receiver.size,
        sha256=receiver.digest.hexdigest(),
        head=receiver.head,
        fields=receiver.fields,
    )
