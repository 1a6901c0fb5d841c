"""`newsroom post FILE.md`: a Markdown file with a YAML front matter of the API fields."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, TextIO

import httpx
import yaml
from pydantic import ValidationError

from services.ingest.schemas import ItemIn
from shared.problems import swedish_errors

FENCE = "---"


class ItemFileError(ValueError):
    """The file is not front matter plus Markdown."""


class _Loader(yaml.SafeLoader):
    """YAML without implicit dates: `published_at` reaches the API exactly as written."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse_item_file(text: str) -> dict[str, Any]:
    """The API fields of an item file: its front matter, and its Markdown as `body`."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    lines = text.split("\n")
    if not lines or lines[0].strip() != FENCE:
        raise ItemFileError("filen måste börja med en front matter mellan två rader '---'")
    try:
        end = next(i for i, line in enumerate(lines[1:], start=1) if line.strip() in (FENCE, "..."))
    except StopIteration:
        raise ItemFileError("front matter saknar avslutande rad '---'") from None
    try:
        front = yaml.load("\n".join(lines[1:end]), Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ItemFileError(f"front matter är inte giltig YAML: {exc}") from None
    if front is None:
        front = {}
    if not isinstance(front, dict):
        raise ItemFileError("front matter måste vara fält och värden (title: …)")
    if "body" in front:
        raise ItemFileError("texten skrivs efter front matter, inte som fältet body")
    body = "\n".join(lines[end + 1 :]).strip("\n")
    return {**front, "body": body}


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
        print(f"Kan inte läsa {path}: {exc}", file=out)
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
        print(f"Kan inte nå {endpoint}: {exc}", file=out)
        return 1
    try:
        answer = response.json()
    except json.JSONDecodeError:
        answer = {}
    if response.status_code in (200, 201) and isinstance(answer, dict) and "url" in answer:
        if answer.get("status") == "draft":
            print(f"Sparad som utkast: {answer['url']}", file=out)
        else:
            print(answer["url"], file=out)
        return 0
    _print_problem(answer if isinstance(answer, dict) else {}, response.status_code, out)
    return 1
