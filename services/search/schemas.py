"""The search API's answers, as OpenAPI documents them (descriptions in Swedish)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class SearchHit(BaseModel):
    id: uuid.UUID = Field(description="Nyhetens id.")
    title: str = Field(description="Rubriken som vanlig text.")
    title_html: str = Field(
        description="Rubriken som säker HTML: allt escapat, sökorden inom <mark>."
    )
    snippet_html: str = Field(
        description="Ett utdrag ur sammanfattningen eller texten där sökorden finns, som "
        "säker HTML med sökorden inom <mark>."
    )
    url: str = Field(description="Nyhetens adress på webbplatsen.")
    published_at: datetime = Field(description="Publiceringstid (ISO 8601).")
    regions: list[str] = Field(description="Regionernas slugs.")
    topics: list[str] = Field(description="Ämnenas slugs.")
    score: float = Field(description="Relevans med tillägg för aktualitet; högst först.")


class FacetCount(BaseModel):
    slug: str = Field(description="Regionens eller ämnets slug, att ge som filter.")
    name: str = Field(description="Namnet som läsare ser.")
    count: int = Field(description="Antal träffar med det här filtret.")


class YearCount(BaseModel):
    year: int = Field(description="Året (svensk tid), att ge som filtret year.")
    count: int = Field(description="Antal träffar det året.")


class Facets(BaseModel):
    regions: list[FacetCount] = Field(description="Träffar per region, flest först.")
    topics: list[FacetCount] = Field(description="Träffar per ämne, flest först.")
    years: list[YearCount] = Field(description="Träffar per år, senaste först.")


class SearchPage(BaseModel):
    query: str = Field(description="Sökfrågan som den tolkades.")
    total: int = Field(
        description="Antal träffar; när total_is_exact är false finns fler och total är "
        "gränsen för hur många som rangordnas (de nyaste)."
    )
    total_is_exact: bool = Field(description="Om total är det exakta antalet träffar.")
    items: list[SearchHit] = Field(description="Träffarna på den här sidan, mest relevanta först.")
    facets: Facets = Field(description="Antal träffar per region, ämne och år.")
    next_cursor: str | None = Field(
        description="Ge som cursor för nästa sida; null på sista sidan."
    )
    suggestion: str | None = Field(
        description="En närliggande sökfråga som ger träffar (”Menade du …?”) när denna "
        "inte gav några."
    )
