"""Trusted GraphQL documents: the operations a client build may run when only registered ones are allowed."""

from tortoise import fields
from tortoise.models import Model

from app.models.base import created_at


class TrustedDocument(Model):
    """One document of a client build, keyed by its manifest id (by default the sha256, hex, of its exact
    text, the hash Apollo's clients send). Immutable: an id always means the same text."""

    id = fields.CharField(max_length=128, primary_key=True)
    body = fields.TextField()
    operation_name = fields.CharField(max_length=200, null=True)
    operation_type = fields.CharField(max_length=16, null=True)
    # Which client build registered it (the manifest's file name or a label given on the command line).
    client_name = fields.CharField(max_length=200, null=True)
    created_at = created_at()

    class Meta:
        table = "trusted_documents"
