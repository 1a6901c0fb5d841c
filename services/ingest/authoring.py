"""`newsroom post FILE.md`: post an item file (services/ingest/frontmatter.py) to the API and
say, in Swedish, what became of it."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import httpx
from pydantic import ValidationError

from services.ingest.frontmatter import ItemFileError, parse_item_file
from services.ingest.schemas import ItemIn
from shared.config import get_settings
from shared.dates import short_date
from shared.problems import swedish_errors


def _unreadable(exc: Exception) -> str:
    # The operating system's and codec's messages are English; say the same in Swedish.
    if isinstance(exc, ItemFileError):
        return str(exc)
    if isinstance(exc, UnicodeDecodeError):
        return f"filen är inte text i UTF-8 (byte {exc.start})"
    if isinstance(exc, FileNotFoundError):
        return "filen finns inte"
    if isinstance(exc, IsADirectoryError):
        return "det är en mapp, inte en fil"
    if isinstance(exc, PermissionError):
        return "du har inte behörighet att läsa filen"
    return "filen kan inte läsas"


def _unreachable(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "tjänsten svarade inte i tid"
    if isinstance(exc, httpx.ConnectError):
        return "ingen tjänst svarar på den adressen"
    return "nätverksfel"


def _print_problem(problem: dict[str, Any], status: int, out: TextIO) -> None:
    title = problem.get("title") or f"HTTP {status}"
    detail = problem.get("detail") or ""
    print(f"Fel {status}: {title}. {detail}".rstrip(), file=out)
    for error in problem.get("errors") or []:
        print(f"  {error.get('field', '?')}: {error.get('message', '')}", file=out)


def post_file(
    *, path: Path | str, url: str, token: str | None, dry_run: bool = False, out: TextIO
) -> int:
    """Post an item file; print the page's URL or the errors line by line; return the exit code.

    0 = published (or valid, with `dry_run`), 1 = refused by validation or the API,
    2 = the file could not be read or is not front matter plus Markdown.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        data = parse_item_file(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, ItemFileError) as exc:
        print(f"Kan inte läsa {path}: {_unreadable(exc)}", file=out)
        return 2
    if dry_run:
        try:
            ItemIn.model_validate(data)
        except ValidationError as exc:
            print(f"{path} är inte giltig:", file=out)
            for error in swedish_errors(list(exc.errors())):
                print(f"  {error['field']}: {error['message']}", file=out)
            return 1
        print(f"{path} är giltig (inget skickades).", file=out)
        return 0
    if not token:
        print("Ange en token (--token eller NEWSROOM_TOKEN).", file=out)
        return 1
    headers = {
        "Authorization": f"Bearer {token}",
        # The same unchanged file posted twice (a retry, a double run) makes one item.
        "Idempotency-Key": "file-" + hashlib.sha256(raw).hexdigest(),
    }
    endpoint = url.rstrip("/") + "/api/v1/items"
    try:
        response = httpx.post(endpoint, json=data, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        print(f"Kan inte nå {endpoint}: {_unreachable(exc)}", file=out)
        return 1
    try:
        answer = response.json()
    except json.JSONDecodeError:
        answer = {}
    if response.status_code in (200, 201) and isinstance(answer, dict) and "url" in answer:
        if answer.get("status") == "draft":
            print(f"Sparad som utkast: {answer['url']}", file=out)
        elif answer.get("status") == "scheduled":
            settings = get_settings()
            when = datetime.fromisoformat(answer["published_at"])
            day = short_date(when, timezone=settings.timezone, language=settings.language)
            print(f"Schemalagd till {day}: {answer['url']}", file=out)
        else:
            print(answer["url"], file=out)
        return 0
    _print_problem(answer if isinstance(answer, dict) else {}, response.status_code, out)
    return 1
