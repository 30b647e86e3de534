"""Trusted documents: registering a client build's manifest, and looking a document up by id."""

from __future__ import annotations

from typing import cast

from tortoise.transactions import in_transaction

from app.domain.documents import ManifestOperation
from app.domain.errors import ErrorCode, FieldError, ValidationFailed
from app.models import TrustedDocument


async def register_documents(operations: list[ManifestOperation], client_name: str | None = None) -> tuple[int, int]:
    """Store the operations not yet known; (added, already registered). An id already registered with
    another text is refused and nothing is written: an id must keep meaning one document."""
    ids = [op.id for op in operations]
    async with in_transaction():
        known = {d.id: d.body for d in await TrustedDocument.filter(id__in=ids)}
        conflicts = [FieldError(f"operations.{op.id}", "id already registered with a different body", ErrorCode.DUPLICATE)
                     for op in operations if op.id in known and known[op.id] != op.body]
        if conflicts:
            raise ValidationFailed(conflicts)
        new = [TrustedDocument(id=op.id, body=op.body, operation_name=op.name, operation_type=op.type, client_name=client_name)
               for op in operations if op.id not in known]
        if new:
            await TrustedDocument.bulk_create(new, ignore_conflicts=True)  # a concurrent registration of the same ids
    return len(new), len(operations) - len(new)


async def trusted_document(document_id: str) -> str | None:
    # Tortoise types values_list() as tuples whatever `flat` says; flat=True gives the bodies themselves.
    bodies = cast("list[str]", await TrustedDocument.filter(id=document_id).values_list("body", flat=True))
    return bodies[0] if bodies else None
