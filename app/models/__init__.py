"""Tortoise models: persistence only; rules live in app.domain, writes in app.services.

Each foreign key's column (`<name>_id`) is declared as a bare annotation for type checkers: Tortoise adds
the attribute at runtime, and a bare annotation creates no class attribute, so Tortoise never sees it."""

from app.models.accounts import Account, AccountTeamMember, Contact, Contract, Location
from app.models.audit import AuditEntry
from app.models.catalog import Product
from app.models.competition import BattleCard, Competitor
from app.models.documents import TrustedDocument
from app.models.events import (
    AccountHealthSnapshot,
    AutomationRun,
    DomainEvent,
    ForecastSnapshot,
    OutgoingMail,
    Webhook,
    WebhookDelivery,
)
from app.models.history import FieldHistoryEntry
from app.models.idempotency import IdempotencyKey
from app.models.interactions import CustomerInteraction, InteractionParticipant
from app.models.opportunities import (
    Opportunity,
    OpportunityActivity,
    OpportunityDocument,
    OpportunityProduct,
    StageTransition,
)
from app.models.pipeline import LostReason, Pipeline, PipelineStage
from app.models.users import ApiKey, RefreshToken, Session, User
from app.models.work import Notification, Task

__all__ = [
    "LostReason",
    "AccountHealthSnapshot", "AutomationRun", "DomainEvent", "ForecastSnapshot", "OutgoingMail", "Webhook", "WebhookDelivery",
    "Account", "AccountTeamMember", "AuditEntry", "BattleCard", "Competitor", "Contact", "Contract",
    "CustomerInteraction", "FieldHistoryEntry", "IdempotencyKey", "InteractionParticipant", "Location", "Notification",
    "Opportunity",
    "OpportunityActivity", "OpportunityDocument", "OpportunityProduct", "Pipeline", "PipelineStage",
    "Product", "StageTransition", "Task", "TrustedDocument", "User", "ApiKey", "RefreshToken", "Session",
]
