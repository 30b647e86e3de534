"""GraphQL enums, exposed from the domain vocabularies.

strawberry.enum marks an enum class as a GraphQL enum in place and returns the same class: each name
below is the domain class itself (an alias, so type checkers read it as a type), registered once here."""

from enum import Enum

import strawberry

from app.domain import enums as e
from app.domain.errors import ErrorCode

Role = e.Role
Industry = e.Industry
AccountSize = e.AccountSize
AccountStatus = e.AccountStatus
AccountTier = e.AccountTier
TeamRole = e.TeamRole
ContractStatus = e.ContractStatus
ContactRole = e.ContactRole
ProductUnit = e.ProductUnit
ProductCategory = e.ProductCategory
StageKind = e.StageKind
ForecastCategory = e.ForecastCategory
OpportunitySource = e.OpportunitySource
ActivityType = e.ActivityType
Outcome = e.Outcome
DocumentType = e.DocumentType
TransitionSource = e.TransitionSource
Pricing = e.Pricing
ValueSource = e.ValueSource
ChangeSource = e.ChangeSource

for _vocabulary in (Role, Industry, AccountSize, AccountStatus, AccountTier, TeamRole, ContractStatus, ContactRole,
                    ProductUnit, ProductCategory, StageKind, ForecastCategory, OpportunitySource, ActivityType,
                    Outcome, DocumentType, TransitionSource, Pricing, ValueSource, ChangeSource, ErrorCode):
    strawberry.enum(_vocabulary)


@strawberry.enum
class SortDirection(Enum):
    ASC = "asc"
    DESC = "desc"
