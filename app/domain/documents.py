"""Persisted GraphQL documents: their ids and the manifest a client build publishes (pure rules).

A manifest is what Apollo's `generate-persisted-query-manifest` writes:
`{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id", "body", "name", "type"}]}`.
Its ids default to the sha256 (hex) of the body, the same hash automatic persisted queries send.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from app.domain.errors import ErrorCode, FieldError, ValidationFailed

MANIFEST_FORMAT = "apollo-persisted-query-manifest"
OPERATION_TYPES = ("query", "mutation", "subscription")
MAX_ID_LENGTH = 128


def document_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class ManifestOperation:
    id: str
    body: str
    name: str | None
    type: str | None


def parse_manifest(data: Any) -> list[ManifestOperation]:
    """The operations of a manifest, or ValidationFailed naming every problem (nothing is half-read)."""
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise ValidationFailed.single("format", f"not a persisted-query manifest: expected format {MANIFEST_FORMAT!r}")
    if data.get("version") != 1:
        raise ValidationFailed.single("version", f"unsupported manifest version {data.get('version')!r}: expected 1")
    operations = data.get("operations")
    if not isinstance(operations, list):
        raise ValidationFailed.single("operations", "expected a list of operations", ErrorCode.REQUIRED)
    errors: list[FieldError] = []
    parsed: dict[str, ManifestOperation] = {}
    for index, item in enumerate(operations):
        where = f"operations.{index}"
        if not isinstance(item, dict) or not isinstance(item.get("body"), str) or not item["body"].strip():
            errors.append(FieldError(f"{where}.body", "expected the document text", ErrorCode.REQUIRED))
            continue
        op_id = item.get("id")
        if not isinstance(op_id, str) or not op_id or len(op_id) > MAX_ID_LENGTH:
            errors.append(FieldError(f"{where}.id", f"expected an id of 1 to {MAX_ID_LENGTH} characters", ErrorCode.INVALID))
            continue
        name, kind = item.get("name"), item.get("type")
        if kind is not None and kind not in OPERATION_TYPES:
            errors.append(FieldError(f"{where}.type", f"expected one of {', '.join(OPERATION_TYPES)}", ErrorCode.INVALID))
            continue
        operation = ManifestOperation(op_id, item["body"], name if isinstance(name, str) else None, kind)
        if op_id in parsed and parsed[op_id].body != operation.body:
            errors.append(FieldError(f"{where}.id", f"id {op_id} is listed twice with different bodies", ErrorCode.DUPLICATE))
            continue
        parsed[op_id] = operation
    if errors:
        raise ValidationFailed(errors)
    return list(parsed.values())
