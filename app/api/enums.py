"""GraphQL enums, exposed from the domain vocabularies."""

from enum import Enum

import strawberry

from app.domain import enums as e
from app.domain.errors import ErrorCode as _ErrorCode

Role = strawberry.enum(e.Role)
Industry = strawberry.enum(e.Industry)
AccountSize = strawberry.enum(e.AccountSize)
AccountStatus = strawberry.enum(e.AccountStatus)
AccountTier = strawberry.enum(e.AccountTier)
TeamRole = strawberry.enum(e.TeamRole)
ContractStatus = strawberry.enum(e.ContractStatus)
ContactRole = strawberry.enum(e.ContactRole)
ProductUnit = strawberry.enum(e.ProductUnit)
ProductCategory = strawberry.enum(e.ProductCategory)
StageKind = strawberry.enum(e.StageKind)
ForecastCategory = strawberry.enum(e.ForecastCategory)
OpportunitySource = strawberry.enum(e.OpportunitySource)
ActivityType = strawberry.enum(e.ActivityType)
Outcome = strawberry.enum(e.Outcome)
DocumentType = strawberry.enum(e.DocumentType)
TransitionSource = strawberry.enum(e.TransitionSource)
Pricing = strawberry.enum(e.Pricing)
ErrorCode = strawberry.enum(_ErrorCode, name="ErrorCode")


@strawberry.enum
class SortDirection(Enum):
    ASC = "asc"
    DESC = "desc"
