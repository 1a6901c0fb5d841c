"""Idempotency-Key: a retried POST gets the first answer instead of a second item."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.ingest.schemas import ItemIn
from shared.db import utcnow
from shared.models import Contributor, IdempotencyKey
from shared.problems import Problem

# How long a retry with the same Idempotency-Key gets the first answer (as Stripe: a day).
IDEMPOTENCY_TTL = timedelta(hours=24)


def request_hash(data: ItemIn) -> str:
    """A fingerprint of what was asked, the same for the same fields in any order."""
    canonical = json.dumps(
        data.model_dump(mode="json", exclude_unset=True), sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def find_idempotent(
    *, session: Session, contributor: Contributor, key: str, fingerprint: str
) -> IdempotencyKey | None:
    """The stored first answer for this key, or None; 422 when the key came with another body."""
    stored = session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.contributor_id == contributor.id, IdempotencyKey.key == key
        )
    )
    if stored is not None and stored.created_at < utcnow() - IDEMPOTENCY_TTL:
        # Expired: the key is free again (its row goes, so the new answer can take its place).
        session.delete(stored)
        session.flush()
        return None
    if stored is not None and not hmac.compare_digest(stored.request_hash, fingerprint):
        raise Problem(
            422,
            "Idempotency-Key har redan använts för en annan begäran.",
            errors=[{"field": "Idempotency-Key", "message": "används redan med annat innehåll"}],
        )
    return stored


def remember_idempotent(
    *,
    session: Session,
    contributor: Contributor,
    key: str,
    fingerprint: str,
    status_code: int,
    response: dict[str, Any],
) -> None:
    """Keep the answer so that a retry with the same key gets it instead of a second item."""
    # The contributor's expired keys go as it makes new ones, so the table stays small.
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.contributor_id == contributor.id,
            IdempotencyKey.created_at < utcnow() - IDEMPOTENCY_TTL,
        )
    )
    session.add(
        IdempotencyKey(
            contributor_id=contributor.id,
            key=key,
            request_hash=fingerprint,
            status_code=status_code,
            response=response,
        )
    )


__all__ = ["IDEMPOTENCY_TTL", "find_idempotent", "remember_idempotent", "request_hash"]
