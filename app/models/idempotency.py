"""Responses kept for the `Idempotency-Key` header (rules in app/domain/idempotency.py)."""

from tortoise import fields
from tortoise.models import Model


class IdempotencyKey(Model):
    """One row per caller and key: claimed before the mutation runs, completed with its response.
    A table, not Redis, so a replay survives Redis losing its data."""

    id = fields.BigIntField(primary_key=True)
    # "user:<id>", or a digest of the credential when it names no user (see domain rules).
    caller = fields.CharField(max_length=80)
    key = fields.CharField(max_length=255)
    request_hash = fields.CharField(max_length=64)
    # Who holds the claim: only that request may complete or release it.
    claim_token = fields.CharField(max_length=32)
    status_code = fields.IntField(null=True)
    content_type = fields.CharField(max_length=100, null=True)
    response_body = fields.TextField(null=True)
    created_at = fields.DatetimeField()
    completed_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "idempotency_keys"
        unique_together = (("caller", "key"),)
