"""Notify's request and response models and what its OpenAPI schema says of them."""

from __future__ import annotations

from typing import Literal

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, ValidationError

from shared import taxonomy

ACCEPTED_DETAIL = (
    "Tack! Om adressen kan ta emot e-post får den strax ett mejl med en länk för att "
    "bekräfta prenumerationen."
)


class SubscriptionIn(BaseModel):
    """A subscription request; empty regions or topics mean all of them."""

    email: str = Field(max_length=320, examples=["anna.andersson@example.se"])
    regions: list[str] = Field(default_factory=list, max_length=100, examples=[["region-skane"]])
    topics: list[str] = Field(default_factory=list, max_length=100, examples=[["livsmedel"]])
    frequency: Literal["immediate", "weekly"] = "immediate"


def request_schema() -> dict:
    """The body's schema as the service checks it: a plain address, slugs of the taxonomy."""
    schema = SubscriptionIn.model_json_schema()
    properties = schema["properties"]
    # What email-validator accepts without SMTPUTF8: an ASCII local part of dot-separated
    # words (up to four of 15 characters: within the 64 RFC 5321 allows) and a host name
    # outside the special-use domains (RFC 6761), which no mail can reach.
    special = "|".join(SPECIAL_USE_DOMAIN_NAMES)
    properties["email"].update(
        format="email",
        pattern=rf"^(?!.*\.({special})$)[A-Za-z0-9_%+-]{{1,15}}(\.[A-Za-z0-9_%+-]{{1,15}}){{0,3}}@"
        r"([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}$",
    )
    properties["regions"]["items"] = {"type": "string", "enum": sorted(taxonomy.regions())}
    properties["topics"]["items"] = {"type": "string", "enum": sorted(taxonomy.topics())}
    return schema


HTML_CONTENT = {"text/html": {"schema": {"type": "string"}}}
PROBLEM_CONTENT = {"application/problem+json": {"schema": {"type": "object"}}}
# What the link pages answer besides their page: a broken or expired link, or a wrong form,
# is a readable Swedish page (400).
PAGE_RESPONSES: dict[int | str, dict] = {
    400: {
        "description": "Ogiltig eller utgången länk, eller felaktigt formulär",
        "content": HTML_CONTENT,
    },
}


# What POST /api/v1/subscriptions answers, and the two bodies it takes.
SUBSCRIBE_RESPONSES: dict[int | str, dict] = {
    202: {
        "description": "Accepted (JSON), or a Swedish page for a form",
        "content": HTML_CONTENT,
    },
    400: {"description": "A form with invalid fields: a Swedish page", "content": HTML_CONTENT},
    403: {
        "description": "A form posted from another site: a Swedish page",
        "content": HTML_CONTENT,
    },
    415: {"description": "Neither JSON nor a form (problem+json)", "content": PROBLEM_CONTENT},
    422: {"description": "Invalid fields (problem+json)", "content": PROBLEM_CONTENT},
    429: {
        "description": "Too many requests from this client",
        "content": {**PROBLEM_CONTENT, **HTML_CONTENT},
    },
}
SUBSCRIBE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": request_schema()},
            "application/x-www-form-urlencoded": {
                "schema": request_schema(),
                "encoding": {"regions": {"explode": True}, "topics": {"explode": True}},
            },
        },
    }
}


# Every link page: HTML, in the schema with the answers above.
PAGE_ROUTE = {
    "response_class": HTMLResponse,
    "tags": ["subscriptions"],
    "responses": PAGE_RESPONSES,
}


class SubscriptionAccepted(BaseModel):
    """The same answer whether or not the address is known."""

    status: Literal["accepted"] = "accepted"
    detail: str = ACCEPTED_DETAIL


# Pydantic's error types in the words a reader of the API understands; the field decides
# where a general word would say less.
_MESSAGES = {
    "missing": "Uppgiften saknas.",
    "string_type": "Ska vara text.",
    "list_type": "Ska vara en lista.",
    "json_invalid": "Ogiltig JSON.",
    "model_type": "Skicka ett JSON-objekt.",
    "literal_error": "Välj immediate eller weekly.",
}
_FIELD_MESSAGES = {("missing", "email"): "Ange en e-postadress."}


def swedish_errors(exc: ValidationError) -> list[dict[str, str]]:
    """A body's validation errors as the `{field, message}` list, in Swedish."""
    errors = []
    for error in exc.errors(include_url=False):
        kind, context = error["type"], error.get("ctx") or {}
        field = str(error["loc"][0]) if error["loc"] else "body"
        if kind == "string_too_long":
            message = f"För lång: högst {context['max_length']} tecken."
        elif kind == "too_long":
            message = f"För många val: högst {context['max_length']}."
        else:
            message = _FIELD_MESSAGES.get((kind, field)) or _MESSAGES.get(kind, "Ogiltigt värde.")
        errors.append({"field": field, "message": message})
    return errors
