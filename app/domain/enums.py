"""The CRM's vocabularies, shared by models, services and the API."""

from enum import Enum


class Role(str, Enum):
    ADMIN = "admin"
    MANAGER = "manager"
    REP = "rep"


class Industry(str, Enum):
    """Food-service segments our customers sell into."""

    RESTAURANT = "restaurant"
    MULTI_UNIT_CHAIN = "multi_unit_chain"
    HOTEL = "hotel"
    CATERING = "catering"
    SCHOOL = "school"
    HOSPITAL = "hospital"
    SENIOR_LIVING = "senior_living"
    CORPORATE_DINING = "corporate_dining"
    DISTRIBUTOR = "distributor"
    OTHER = "other"


class AccountSize(str, Enum):
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"
    ENTERPRISE = "enterprise"


class AccountStatus(str, Enum):
    PROSPECT = "prospect"
    CUSTOMER = "customer"
    PARTNER = "partner"
    INACTIVE = "inactive"


class AccountTier(str, Enum):
    STRATEGIC = "strategic"
    KEY = "key"
    STANDARD = "standard"
    BASIC = "basic"


class TeamRole(str, Enum):
    ACCOUNT_MANAGER = "account_manager"
    SALES_REP = "sales_rep"
    SUPPORT = "support"
    TECHNICAL = "technical"


class ContractStatus(str, Enum):
    DRAFT = "draft"
    ACTIVE = "active"
    EXPIRED = "expired"
    TERMINATED = "terminated"


class ContactRole(str, Enum):
    DECISION_MAKER = "decision_maker"
    INFLUENCER = "influencer"
    CHAMPION = "champion"
    USER = "user"
    GATEKEEPER = "gatekeeper"
    OTHER = "other"


class ValueSource(str, Enum):
    """Where a deal's value comes from: typed by a person, or the sum of its product lines."""
    MANUAL = "manual"
    PRODUCTS = "products"


class ProductUnit(str, Enum):
    CASE = "case"
    EACH = "each"
    POUND = "lb"
    KILOGRAM = "kg"
    GALLON = "gallon"
    DOZEN = "dozen"
    PALLET = "pallet"


class ProductCategory(str, Enum):
    PRODUCE = "produce"
    DAIRY = "dairy"
    MEAT_POULTRY = "meat_poultry"
    SEAFOOD = "seafood"
    DRY_GOODS = "dry_goods"
    FROZEN = "frozen"
    BAKERY = "bakery"
    BEVERAGES = "beverages"
    PAPER_DISPOSABLES = "paper_disposables"
    CLEANING_CHEMICALS = "cleaning_chemicals"
    EQUIPMENT = "equipment"


class StageKind(str, Enum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class ForecastCategory(str, Enum):
    """Salesforce-style forecast categories."""

    PIPELINE = "pipeline"
    BEST_CASE = "best_case"
    COMMIT = "commit"
    CLOSED = "closed"
    OMITTED = "omitted"


class OpportunitySource(str, Enum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    REFERRAL = "referral"
    TRADE_SHOW = "trade_show"
    PARTNER = "partner"
    EXISTING_CUSTOMER = "existing_customer"
    WEBSITE = "website"
    OTHER = "other"


class ActivityType(str, Enum):
    CALL = "call"
    EMAIL = "email"
    MEETING = "meeting"
    DEMO = "demo"
    PROPOSAL = "proposal"
    PRESENTATION = "presentation"
    TASTING = "tasting"
    SAMPLE_DELIVERY = "sample_delivery"
    SITE_VISIT = "site_visit"
    SYSTEM = "system"


class Outcome(str, Enum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


class DocumentType(str, Enum):
    PROPOSAL = "proposal"
    CONTRACT = "contract"
    PRICE_LIST = "price_list"
    SPEC_SHEET = "spec_sheet"
    MENU = "menu"
    OTHER = "other"


class TransitionSource(str, Enum):
    API = "api"
    AUTOMATION = "automation"
    IMPORT = "import"


class Pricing(str, Enum):
    LOWER = "lower"
    COMPETITIVE = "competitive"
    HIGHER = "higher"


class InteractionType(str, Enum):
    EMAIL = "email"
    PHONE = "phone"
    MEETING = "meeting"
    DEMO = "demo"
    SUPPORT = "support"
    EVENT = "event"


class Direction(str, Enum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class ParticipantRole(str, Enum):
    ORGANIZER = "organizer"
    ATTENDEE = "attendee"
    OPTIONAL = "optional"


class TaskPriority(str, Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"


class TaskStatus(str, Enum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ChangeSource(str, Enum):
    """What made a change to a record's fields (its field history says)."""
    API = "api"
    AUTOMATION = "automation"
    IMPORT = "import"
