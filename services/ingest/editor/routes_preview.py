"""The preview's frames and the count of subscribers the page's script asks for."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from services.ingest.editor import previews, web
from services.ingest.editor.access import User
from shared import taxonomy

router = APIRouter(include_in_schema=False)


@router.get(previews.FRAME + "/{token}")
async def preview_frame(token: str, user: User) -> Response:
    return await run_in_threadpool(previews.frame, token=token, user=user)


@router.get(f"{web.PREFIX}/mottagare")
async def recipients(
    user: User,
    regioner: Annotated[list[str], Query(max_length=50)] = [],  # noqa: B006 (FastAPI copies it)
    amnen: Annotated[list[str], Query(max_length=50)] = [],  # noqa: B006
) -> Response:
    """How many subscribers the chosen regions and topics reach now (JSON for the script)."""
    regions = [slug for slug in regioner if slug in taxonomy.regions()]
    topics = [slug for slug in amnen if slug in taxonomy.topics()]
    reach = await run_in_threadpool(previews.reach, regions=regions, topics=topics)
    return JSONResponse(
        {"immediate": reach.immediate, "weekly": reach.weekly, "phrase": reach.phrase()},
        headers={"Cache-Control": "no-store"},
    )


__all__ = ["router"]
