"""Demo data: a believable food-service book of business for an empty database.

``seed_demo()`` creates a sales team (one admin, two sales managers, six reps), ~300 customer
accounts (restaurant chains with delivery locations and member brands, independents, hotels,
schools, hospitals, caterers, senior living, corporate dining) with contacts, contracts and account
teams, a case-priced catalogue, real competitor distributors with battlecards, ~600 opportunities
over two years (line items, activities and a stage history consistent with each deal's path),
~2,000 customer interactions and a set of rep tasks.

Everything is drawn from ``random.Random(seed)`` and anchored to the current hour, so a seed always
gives the same data relative to "now". No network access. Names, phone numbers (555-01xx) and
e-mail domains (.example) are fictional; competitor names are real, their market shares are rough
illustrative figures, not sourced data.

Two Tortoise ORM (1.1) behaviours shape the code:

* ``bulk_create`` does not give primary keys back, so ``_insert`` reads the new ids back in
  insertion order (ids only grow, and the seed runs in one transaction on tables it alone writes).
* ``auto_now_add`` (``created_at``) keeps a value that is given explicitly, also with
  ``bulk_create``, but ``auto_now`` (``updated_at``) is overwritten with the current time on every
  write, so ``_finish`` back-dates ``updated_at`` with one plain UPDATE per table.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from dataclasses import replace as dataclass_replace
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple, TypeVar, cast

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.fields.relational import ManyToManyFieldInstance
from tortoise.models import Model
from tortoise.transactions import in_transaction

from app.domain.contact_log import ACTIVITY_FOR_INTERACTION, INTERACTION_FOR_ACTIVITY, records_contact
from app.domain.health import assess
from app.domain.sentiment import sentiment_label, sentiment_score
from app.domain.enums import (
    AccountSize,
    AccountStatus,
    AccountTier,
    ValueSource,
    ActivityType,
    ContactRole,
    ContractStatus,
    Direction,
    Industry,
    InteractionType,
    OpportunitySource,
    Outcome,
    ParticipantRole,
    Pricing,
    ProductCategory,
    ProductUnit,
    Role,
    TaskPriority,
    TaskStatus,
    TeamRole,
    TransitionSource,
)
from app.domain.opportunities import line_total, products_value
from app.models import (
    Account,
    AccountHealthSnapshot,
    AccountTeamMember,
    BattleCard,
    Competitor,
    Contact,
    Contract,
    CustomerInteraction,
    InteractionParticipant,
    Location,
    Opportunity,
    OpportunityActivity,
    OpportunityProduct,
    PipelineStage,
    Product,
    StageTransition,
    Task,
    User,
)
from app.services.auth import hash_password
from app.services.opportunities import LAST_ACTIVITY_SQL
from app.services.health import factors_json, gather_inputs
from app.services.lost_reasons import ensure_default_lost_reasons
from app.services.pipelines import ensure_default_pipeline

# --------------------------------------------------------------------------------------------
# Sizes of the demo and the login it hands out
# --------------------------------------------------------------------------------------------

DEMO_LOGIN_EMAIL = "demo@kitchenpantry.example"
DEMO_LOGIN_PASSWORD = "pantry-demo-2026"
STAFF_DOMAIN = "kitchenpantry.example"

HISTORY_DAYS = 730
OPPORTUNITY_COUNT = 600
INTERACTION_COUNT = 2000
BATCH_SIZE = 500

CENT = Decimal("0.01")

# --------------------------------------------------------------------------------------------
# The sales team
# --------------------------------------------------------------------------------------------

ADMIN_NAME = "Dana Whitfield"
ADMIN_TIMEZONE = "America/Chicago"
MANAGERS = [  # name, timezone
    ("Marcus Bell", "America/Chicago"),
    ("Renee Okafor", "America/New_York"),
]
REPS = [  # name, timezone, index into MANAGERS, territory (states)
    ("Tyler Brooks", "America/Chicago", 0, ("IL", "WI", "IN")),
    ("Priya Natarajan", "America/Chicago", 0, ("MN", "IA", "MO", "NE")),
    ("Jake Lindqvist", "America/Denver", 0, ("CO", "AZ")),
    ("Alicia Moreno", "America/Chicago", 1, ("TX",)),
    ("Darnell Hayes", "America/New_York", 1, ("GA", "TN", "KY", "OH")),
    ("Sophie Tran", "America/Chicago", 1, ("LA", "AR", "OK")),
]

# --------------------------------------------------------------------------------------------
# Places and people
# --------------------------------------------------------------------------------------------


class City(NamedTuple):
    name: str
    region: str
    postal_code: str
    area_code: str


CITIES = [
    City("Chicago", "IL", "60607", "312"), City("Naperville", "IL", "60540", "630"),
    City("Springfield", "IL", "62701", "217"), City("Milwaukee", "WI", "53202", "414"),
    City("Madison", "WI", "53703", "608"), City("Indianapolis", "IN", "46204", "317"),
    City("Fort Wayne", "IN", "46802", "260"), City("Minneapolis", "MN", "55401", "612"),
    City("St. Paul", "MN", "55102", "651"), City("Des Moines", "IA", "50309", "515"),
    City("Kansas City", "MO", "64105", "816"), City("St. Louis", "MO", "63101", "314"),
    City("Omaha", "NE", "68102", "402"), City("Denver", "CO", "80202", "303"),
    City("Boulder", "CO", "80302", "303"), City("Colorado Springs", "CO", "80903", "719"),
    City("Phoenix", "AZ", "85004", "602"), City("Scottsdale", "AZ", "85251", "480"),
    City("Tucson", "AZ", "85701", "520"), City("Dallas", "TX", "75201", "214"),
    City("Fort Worth", "TX", "76102", "817"), City("Austin", "TX", "78701", "512"),
    City("San Antonio", "TX", "78205", "210"), City("Houston", "TX", "77002", "713"),
    City("Oklahoma City", "OK", "73102", "405"), City("Tulsa", "OK", "74103", "918"),
    City("Atlanta", "GA", "30303", "404"), City("Savannah", "GA", "31401", "912"),
    City("Nashville", "TN", "37203", "615"), City("Memphis", "TN", "38103", "901"),
    City("Louisville", "KY", "40202", "502"), City("Columbus", "OH", "43215", "614"),
    City("Cincinnati", "OH", "45202", "513"), City("New Orleans", "LA", "70112", "504"),
    City("Baton Rouge", "LA", "70801", "225"), City("Little Rock", "AR", "72201", "501"),
]

STREET_NAMES = [
    "Main", "Oak", "Maple", "Commerce", "Market", "Elm", "Washington", "Lincoln", "Jefferson",
    "Industrial", "Grand", "Cedar", "Lake", "Park", "River", "Mill", "Church", "Highland", "Ridge",
    "Magnolia", "Front", "Depot", "Harbor", "University",
]
STREET_SUFFIXES = ["St", "Ave", "Blvd", "Rd", "Pkwy", "Dr", "Way"]

FIRST_NAMES = [
    "Maria", "James", "Aisha", "Carlos", "Emily", "Hiroshi", "Grace", "Luis", "Nora", "Samuel",
    "Keisha", "Daniel", "Mei", "Antonio", "Rachel", "Omar", "Laura", "Kevin", "Fatima", "Brian",
    "Sofia", "Andre", "Hannah", "Miguel", "Olivia", "Raj", "Megan", "Tomas", "Jasmine", "Patrick",
    "Lena", "Victor", "Chloe", "Ingrid", "Devon", "Rosa", "Ethan", "Yolanda", "Caleb", "Bianca",
    "Trevor", "Anh", "Gabriel", "Erin", "Kwame", "Paige", "Diego", "Natalie", "Scott", "Leticia",
]
LAST_NAMES = [
    "Delgado", "Thompson", "Nguyen", "Schmidt", "Patel", "Johnson", "Ramirez", "Kowalski", "Chen",
    "Washington", "Murphy", "Garcia", "Larsen", "Jackson", "Rossi", "Kim", "Hernandez", "Baker",
    "Sullivan", "Novak", "Alvarez", "Fitzgerald", "Yamamoto", "Coleman", "Bergstrom", "Ortiz",
    "Henderson", "Moreau", "Walker", "Castillo", "Fischer", "Reyes", "O'Brien", "Pham", "Mitchell",
    "Santos", "Kaur", "Lindgren", "Abbott", "Greene", "Haddad", "Vasquez", "Whitaker", "Carver",
    "Molina", "Byrne", "Tanaka", "Dubois", "Okonkwo", "Hale",
]

# --------------------------------------------------------------------------------------------
# Words for account names
# --------------------------------------------------------------------------------------------

NAME_ADJECTIVES = [
    "Copper", "Blue", "Golden", "Iron", "Rustic", "Silver", "Smoky", "Salt", "Wild", "Red",
    "Green", "Old", "Little", "Crooked", "Lucky", "Hungry", "Sunny", "Velvet", "Brick", "Cedar",
    "Juniper", "Honey", "Harvest", "Crimson", "Black",
]
NAME_NOUNS = [
    "Fig", "Heron", "Skillet", "Anchor", "Pig", "Oak", "Lantern", "Kettle", "Fork", "Spoon",
    "Barrel", "Mill", "Hearth", "Radish", "Olive", "Pepper", "Ember", "Goat", "Rooster", "Acorn",
    "Table", "Vine", "Plow", "Biscuit", "Sparrow",
]
PLACES = [
    "Riverside", "Lakeview", "Cedar Creek", "Maple Grove", "Willow Bend", "Pine Ridge", "Oak Hollow",
    "Harbor Point", "Stonebridge", "Fairview", "Brookside", "Highland", "Prairie View", "Sunset Hills",
    "Magnolia", "Bluebonnet", "Summit", "Meadowbrook", "Silver Lake", "Eagle Crest", "Timber Ridge",
    "Westfield", "Northgate", "Clear Springs",
]
RESTAURANT_KINDS = [
    "Bistro", "Kitchen", "Grill", "Tavern", "Diner", "Cantina", "Trattoria", "Brasserie",
    "Smokehouse", "Taqueria", "Noodle Bar", "Café", "Oyster Bar", "Steakhouse", "Eatery",
    "Pizzeria", "Supper Club",
]
CHAIN_KINDS = [
    "Burger Co.", "Pizza Kitchen", "Taco Shop", "BBQ", "Chicken & Biscuits", "Noodle House",
    "Bagel Co.", "Salad Co.", "Wings", "Coffee House", "Sandwich Shop", "Grill & Bar",
]
GROUP_SUFFIXES = ["Restaurant Group", "Hospitality Group", "Restaurant Partners", "Dining Concepts"]
HOTEL_KINDS = ["Grand Hotel", "Inn & Suites", "Resort & Spa", "Hotel", "Conference Center", "Lodge"]
SAINTS = [
    "St. Mary's", "St. Luke's", "St. Joseph's", "Mercy", "Good Samaritan", "Providence",
    "Sacred Heart", "Baptist", "Methodist", "Presbyterian",
]
CORPORATE_NAMES = [
    "Northwind", "Bluestem", "Granite Peak", "Ironwood", "Keystone", "Meridian", "Summit Ridge",
    "Clearwater", "Redline", "Prairie State", "Lakeshore", "Trailhead",
]
CORPORATE_KINDS = [
    "Technologies", "Insurance", "Logistics", "Financial", "Manufacturing", "Health Plans",
    "Energy", "Software",
]
SCHOOL_BUILDINGS = [
    "Lincoln Elementary", "Jefferson Middle School", "Central High School", "Roosevelt Elementary",
    "Washington High School", "Oak Park Elementary", "Kennedy Middle School", "North High School",
]
CAMPUS_SITES = ["Main dining hall", "Student union food court", "North campus café", "Residence hall dining",
                "Athletics concessions"]
HOSPITAL_SITES = ["Main campus", "North campus", "Outpatient Center", "Women's & Children's Pavilion"]

DELIVERY_NOTES = [
    "Back dock off the alley; deliveries before 10 am.",
    "Call the kitchen manager 30 minutes before arrival.",
    "No deliveries 11 am–2 pm (lunch service).",
    "Loading dock B; check in with security first.",
    "Walk-in cooler at the rear; use the service elevator.",
    "Receiving closes at 9 am on Saturdays.",
    "Tight alley – box truck only, no trailers.",
    "",
]

# --------------------------------------------------------------------------------------------
# Contacts: titles (and the buying role that usually goes with them) per segment
# --------------------------------------------------------------------------------------------

DM, INF, CHAMP, USR, GATE = (
    ContactRole.DECISION_MAKER, ContactRole.INFLUENCER, ContactRole.CHAMPION, ContactRole.USER,
    ContactRole.GATEKEEPER,
)
CONTACT_TITLES: dict[Industry, list[tuple[str, ContactRole]]] = {
    Industry.RESTAURANT: [
        ("Owner", DM), ("General Manager", DM), ("Executive Chef", CHAMP), ("Chef de Cuisine", INF),
        ("Kitchen Manager", USR), ("Sous Chef", USR), ("Office Manager", GATE),
    ],
    Industry.MULTI_UNIT_CHAIN: [
        ("VP of Supply Chain", DM), ("Director of Purchasing", DM), ("Corporate Executive Chef", CHAMP),
        ("Director of Culinary Innovation", INF), ("Purchasing Manager", INF),
        ("Director of Operations", INF), ("Area Manager", USR), ("Executive Assistant", GATE),
    ],
    Industry.HOTEL: [
        ("F&B Director", DM), ("Executive Chef", CHAMP), ("Purchasing Manager", INF),
        ("Director of Operations", INF), ("Banquet Chef", USR), ("Executive Sous Chef", USR),
    ],
    Industry.SCHOOL: [
        ("Food Service Director", DM), ("Child Nutrition Director", DM), ("Director of Dining Services", DM),
        ("Nutrition Services Coordinator", INF), ("Cafeteria Manager", USR), ("Procurement Officer", GATE),
    ],
    Industry.HOSPITAL: [
        ("Director of Food & Nutrition Services", DM), ("Executive Chef", CHAMP), ("Purchasing Manager", INF),
        ("Clinical Dietitian", INF), ("Patient Services Manager", USR), ("Supply Chain Analyst", GATE),
    ],
    Industry.CATERING: [
        ("Owner", DM), ("Executive Chef", CHAMP), ("Catering Sales Manager", INF), ("Operations Manager", USR),
    ],
    Industry.SENIOR_LIVING: [
        ("Dining Services Director", DM), ("Executive Director", DM), ("Executive Chef", CHAMP),
        ("Registered Dietitian", INF), ("Dining Room Supervisor", USR),
    ],
    Industry.CORPORATE_DINING: [
        ("Dining Program Manager", DM), ("Executive Chef", CHAMP), ("Facilities Director", INF),
        ("Café Manager", USR), ("Procurement Manager", GATE),
    ],
    Industry.OTHER: [
        ("General Manager", DM), ("Executive Chef", CHAMP), ("Concessions Manager", INF),
        ("Purchasing Manager", INF),
    ],
}

# --------------------------------------------------------------------------------------------
# Catalogue: SKU, name, category, unit, list price
# --------------------------------------------------------------------------------------------

_C = ProductCategory
_U = ProductUnit
PRODUCTS = [
    ("KP-PRD-1001", "Idaho Russet Potatoes 50 lb", _C.PRODUCE, _U.CASE, "32.50"),
    ("KP-PRD-1002", "Jumbo Yellow Onions 50 lb", _C.PRODUCE, _U.CASE, "28.75"),
    ("KP-PRD-1003", "Romaine Hearts 12x3 ct", _C.PRODUCE, _U.CASE, "38.90"),
    ("KP-PRD-1004", "Roma Tomatoes 25 lb", _C.PRODUCE, _U.CASE, "31.40"),
    ("KP-PRD-1005", "Hass Avocados 48 ct", _C.PRODUCE, _U.CASE, "62.00"),
    ("KP-PRD-1006", "Fancy Lemons 115 ct", _C.PRODUCE, _U.CASE, "44.50"),
    ("KP-PRD-1007", "Baby Spinach 4x2.5 lb", _C.PRODUCE, _U.CASE, "29.80"),
    ("KP-PRD-1008", "Fresh Cilantro 30 bunch", _C.PRODUCE, _U.CASE, "22.60"),
    ("KP-PRD-1009", "Jumbo Carrots 50 lb", _C.PRODUCE, _U.CASE, "30.10"),
    ("KP-DRY-2001", "Unsalted Grade AA Butter 36x1 lb", _C.DAIRY, _U.CASE, "152.00"),
    ("KP-DRY-2002", "Heavy Whipping Cream 40% 12x1 qt", _C.DAIRY, _U.CASE, "58.40"),
    ("KP-DRY-2003", "Shredded Low-Moisture Mozzarella 4x5 lb", _C.DAIRY, _U.CASE, "68.90"),
    ("KP-DRY-2004", "Aged Sharp Cheddar Loaf 2x5 lb", _C.DAIRY, _U.CASE, "46.20"),
    ("KP-DRY-2005", "Large Grade A Eggs 15 dozen", _C.DAIRY, _U.CASE, "48.00"),
    ("KP-DRY-2006", "Cage-Free Brown Eggs", _C.DAIRY, _U.DOZEN, "3.85"),
    ("KP-DRY-2007", "Whole Milk 1 gal", _C.DAIRY, _U.GALLON, "4.60"),
    ("KP-DRY-2008", "Parmigiano Reggiano Wedges", _C.DAIRY, _U.KILOGRAM, "27.90"),
    ("KP-MTP-3001", "Boneless Skinless Chicken Breast 4x10 lb", _C.MEAT_POULTRY, _U.CASE, "118.00"),
    ("KP-MTP-3002", "Jumbo Chicken Wings 40 lb", _C.MEAT_POULTRY, _U.CASE, "139.00"),
    ("KP-MTP-3003", "Ground Beef 80/20 Chubs 4x10 lb", _C.MEAT_POULTRY, _U.CASE, "189.00"),
    ("KP-MTP-3004", "USDA Choice Ribeye Lip-On", _C.MEAT_POULTRY, _U.POUND, "12.95"),
    ("KP-MTP-3005", "Bone-In Pork Butt 2x9 lb", _C.MEAT_POULTRY, _U.CASE, "41.00"),
    ("KP-MTP-3006", "Applewood Smoked Bacon 15 lb", _C.MEAT_POULTRY, _U.CASE, "74.50"),
    ("KP-MTP-3007", "Oven-Roasted Turkey Breast 2x9 lb", _C.MEAT_POULTRY, _U.CASE, "88.00"),
    ("KP-SEA-4001", "Atlantic Salmon Fillets Skin-On 10 lb", _C.SEAFOOD, _U.CASE, "109.00"),
    ("KP-SEA-4002", "White Shrimp 16/20 Peeled & Deveined 5x2 lb", _C.SEAFOOD, _U.CASE, "96.00"),
    ("KP-SEA-4003", "Breaded Alaska Pollock Fillets 10 lb", _C.SEAFOOD, _U.CASE, "54.00"),
    ("KP-SEA-4004", "Dry Sea Scallops U-10 5 lb", _C.SEAFOOD, _U.CASE, "129.00"),
    ("KP-SEA-4005", "Gulf Catfish Fillets 15 lb", _C.SEAFOOD, _U.CASE, "82.50"),
    ("KP-DRG-5001", "Extra Virgin Olive Oil 6x1 gal", _C.DRY_GOODS, _U.CASE, "238.00"),
    ("KP-DRG-5002", "Canola Frying Oil 35 lb", _C.DRY_GOODS, _U.CASE, "48.50"),
    ("KP-DRG-5003", "All-Purpose Flour 50 lb", _C.DRY_GOODS, _U.CASE, "24.90"),
    ("KP-DRG-5004", "Granulated Sugar 50 lb", _C.DRY_GOODS, _U.CASE, "42.00"),
    ("KP-DRG-5005", "Long Grain White Rice 50 lb", _C.DRY_GOODS, _U.CASE, "38.75"),
    ("KP-DRG-5006", "Penne Rigate 2x10 lb", _C.DRY_GOODS, _U.CASE, "26.40"),
    ("KP-DRG-5007", "Crushed Tomatoes #10 Can 6 ct", _C.DRY_GOODS, _U.CASE, "29.95"),
    ("KP-DRG-5008", "Low-Sodium Chicken Base 6x1 lb", _C.DRY_GOODS, _U.CASE, "64.00"),
    ("KP-DRG-5009", "Kosher Salt 12x3 lb", _C.DRY_GOODS, _U.CASE, "36.00"),
    ("KP-DRG-5010", "Fancy Ketchup Pouch 6x114 oz", _C.DRY_GOODS, _U.CASE, "33.20"),
    ("KP-FRZ-6001", "Straight-Cut Fries 3/8 in 6x5 lb", _C.FROZEN, _U.CASE, "39.80"),
    ("KP-FRZ-6002", "Sweet Potato Fries 6x2.5 lb", _C.FROZEN, _U.CASE, "44.00"),
    ("KP-FRZ-6003", "Mixed Vegetables 12x2.5 lb", _C.FROZEN, _U.CASE, "37.00"),
    ("KP-FRZ-6004", "Angus Beef Patties 6 oz 10 lb", _C.FROZEN, _U.CASE, "71.50"),
    ("KP-FRZ-6005", "Vanilla Ice Cream 3 gal Tub", _C.FROZEN, _U.EACH, "31.00"),
    ("KP-BAK-7001", "Brioche Burger Buns 4.5 in 8x12", _C.BAKERY, _U.CASE, "45.00"),
    ("KP-BAK-7002", "Sliced Sourdough Sandwich Loaf 8 ct", _C.BAKERY, _U.CASE, "28.00"),
    ("KP-BAK-7003", "Flour Tortillas 12 in 12x12", _C.BAKERY, _U.CASE, "27.00"),
    ("KP-BAK-7004", "Par-Baked Butter Croissants 60 ct", _C.BAKERY, _U.CASE, "58.00"),
    ("KP-BEV-8001", "Espresso Roast Whole Bean Coffee 5 lb", _C.BEVERAGES, _U.EACH, "49.00"),
    ("KP-BEV-8002", "Cold Brew Concentrate 2x1 gal", _C.BEVERAGES, _U.CASE, "54.00"),
    ("KP-BEV-8003", "100% Orange Juice 8x64 oz", _C.BEVERAGES, _U.CASE, "36.00"),
    ("KP-BEV-8004", "Spring Water 16.9 oz 24 ct", _C.BEVERAGES, _U.CASE, "6.90"),
    ("KP-BEV-8005", "Spring Water 16.9 oz, pallet of 84 cases", _C.BEVERAGES, _U.PALLET, "520.00"),
    ("KP-PAP-9001", "Nitrile Gloves 10x100", _C.PAPER_DISPOSABLES, _U.CASE, "58.00"),
    ("KP-PAP-9002", "Kraft To-Go Box #8 200 ct", _C.PAPER_DISPOSABLES, _U.CASE, "46.00"),
    ("KP-PAP-9003", "16 oz Hot Cups 1000 ct", _C.PAPER_DISPOSABLES, _U.CASE, "72.00"),
    ("KP-PAP-9004", "Compostable Clamshell 9x9 200 ct", _C.PAPER_DISPOSABLES, _U.CASE, "64.00"),
    ("KP-PAP-9005", "Aluminum Foil Roll 18 in x 500 ft", _C.PAPER_DISPOSABLES, _U.EACH, "39.00"),
    ("KP-CLN-9501", "Quaternary Sanitizer 4x1 gal", _C.CLEANING_CHEMICALS, _U.CASE, "68.00"),
    ("KP-CLN-9502", "Pot & Pan Detergent 4x1 gal", _C.CLEANING_CHEMICALS, _U.CASE, "42.00"),
    ("KP-CLN-9503", "Heavy-Duty Degreaser 4x1 gal", _C.CLEANING_CHEMICALS, _U.CASE, "49.00"),
    ("KP-CLN-9504", "Dish Machine Detergent 5 gal", _C.CLEANING_CHEMICALS, _U.EACH, "94.00"),
    ("KP-EQP-9801", "Aluminum Half Sheet Pans 12 ct", _C.EQUIPMENT, _U.CASE, "52.00"),
    ("KP-EQP-9802", "Stainless Full-Size Hotel Pans 4 in 6 ct", _C.EQUIPMENT, _U.CASE, "78.00"),
    ("KP-EQP-9803", "10 in Chef's Knife", _C.EQUIPMENT, _U.EACH, "38.00"),
    ("KP-EQP-9804", "Digital Probe Thermometer", _C.EQUIPMENT, _U.EACH, "24.00"),
]

# --------------------------------------------------------------------------------------------
# Competitors and their battlecards
# --------------------------------------------------------------------------------------------

COMPETITORS: list[dict[str, Any]] = [
    {
        "name": "Sysco", "website": "https://www.sysco.com",
        "description": "The largest broadline food-service distributor in North America.",
        "strengths": ["Broadest catalogue and national coverage", "Strong private-label brands",
                      "Mature online ordering and menu tools"],
        "weaknesses": ["Less flexible on small drop sizes", "Rep turnover at independent accounts",
                       "Price moves on non-contract items"],
        "pricing": Pricing.COMPETITIVE, "market_share": "0.1700",
        "incumbent_categories": ["dry_goods", "frozen", "paper_disposables", "cleaning_chemicals"],
    },
    {
        "name": "US Foods", "website": "https://www.usfoods.com",
        "description": "National broadline distributor with a strong exclusive-brand programme.",
        "strengths": ["Exclusive brands and new-product launches", "Chef-focused sales support",
                      "Solid national chain coverage"],
        "weaknesses": ["Fill-rate issues on specialty items", "Complex rebate programmes",
                       "Long cut-off times for next-day delivery"],
        "pricing": Pricing.COMPETITIVE, "market_share": "0.0900",
        "incumbent_categories": ["meat_poultry", "frozen", "dry_goods"],
    },
    {
        "name": "Gordon Food Service", "website": "https://www.gfs.com",
        "description": "Family-owned broadline distributor headquartered in Michigan, strong in the Midwest.",
        "strengths": ["Reliable on-time delivery", "Good regional relationships", "Retail stores for fill-in orders"],
        "weaknesses": ["Thinner specialty and local produce range", "Less aggressive on protein pricing"],
        "pricing": Pricing.COMPETITIVE, "market_share": "0.0500",
        "incumbent_categories": ["dry_goods", "bakery", "frozen"],
    },
    {
        "name": "Performance Food Group", "website": "https://www.pfgc.com",
        "description": "National distributor (Performance Foodservice) growing through acquisitions.",
        "strengths": ["Aggressive pricing on chain business", "Large protein programme"],
        "weaknesses": ["Service varies by operating company", "Integration churn after acquisitions"],
        "pricing": Pricing.LOWER, "market_share": "0.0800",
        "incumbent_categories": ["meat_poultry", "dry_goods", "paper_disposables"],
    },
    {
        "name": "Shamrock Foods", "website": "https://www.shamrockfoodservice.com",
        "description": "Family-owned distributor and dairy processor serving the Southwest and Mountain West.",
        "strengths": ["Own dairy brand", "Strong in Arizona and Colorado", "High-touch service"],
        "weaknesses": ["Limited footprint outside the West", "Premium price points"],
        "pricing": Pricing.HIGHER, "market_share": "0.0120",
        "incumbent_categories": ["dairy", "produce", "meat_poultry"],
    },
    {
        "name": "Ben E. Keith", "website": "https://www.benekeith.com",
        "description": "Texas-based family-owned distributor, strong across the South.",
        "strengths": ["Deep Texas relationships", "Beverage expertise", "Flexible on delivery windows"],
        "weaknesses": ["Smaller national-account capability", "Fewer sustainability options"],
        "pricing": Pricing.COMPETITIVE, "market_share": "0.0100",
        "incumbent_categories": ["beverages", "meat_poultry", "produce"],
    },
    {
        "name": "Reinhart Foodservice", "website": "https://www.rfsdelivers.com",
        "description": "Midwest broadline distributor, now part of Performance Food Group.",
        "strengths": ["Strong in Wisconsin and the Upper Midwest", "Competitive on centre-of-plate"],
        "weaknesses": ["Ordering technology lags", "Limited chef support"],
        "pricing": Pricing.LOWER, "market_share": "0.0150",
        "incumbent_categories": ["dry_goods", "frozen", "meat_poultry"],
    },
]
BATTLECARD_TEMPLATES = [
    {
        "title": "Winning independents away from {name}",
        "summary": "Independent operators value a consistent rep and flexible drops more than the last cent per case.",
        "objection_handling": [
            {"objection": "{name} is cheaper on my basket.",
             "response": "Compare landed cost: fuel surcharges, minimums and short-ships. "
                         "Offer a 90-day fixed price on the top 20 items."},
            {"objection": "Switching distributors is a hassle.",
             "response": "We load their order guide and par levels before the first delivery; "
                         "the rep rides along on the first three trucks."},
        ],
        "proof_points": ["98.5% fill rate over the last 12 months", "Same rep for 3+ years on most accounts",
                         "No minimum on split cases of dairy and produce"],
    },
    {
        "title": "Protecting our chains against {name}",
        "summary": "Chains buy on system-wide price and consistency; lead with contract pricing and spec control.",
        "objection_handling": [
            {"objection": "{name} offered a bigger rebate.",
             "response": "Show the net price after rebates and our cost-plus transparency; "
                         "rebates are often paid late."},
            {"objection": "We need one distributor for every market.",
             "response": "Our territory covers their current and planned units; redistribution covers the rest."},
        ],
        "proof_points": ["Cost-plus contracts audited quarterly", "Spec-locked items prevent substitutions"],
    },
]

# --------------------------------------------------------------------------------------------
# Opportunities: themes, sources, lost reasons, next steps
# --------------------------------------------------------------------------------------------

ALL_CATEGORIES = tuple(ProductCategory)
GENERAL_THEMES: list[tuple[str, tuple[ProductCategory, ...]]] = [
    ("Produce program", (_C.PRODUCE,)),
    ("Protein supply agreement", (_C.MEAT_POULTRY,)),
    ("Seafood program", (_C.SEAFOOD,)),
    ("Dairy & eggs program", (_C.DAIRY,)),
    ("Dry goods & pantry staples", (_C.DRY_GOODS,)),
    ("Frozen & fryer program", (_C.FROZEN, _C.DRY_GOODS)),
    ("Bakery & bread program", (_C.BAKERY,)),
    ("Beverage program", (_C.BEVERAGES,)),
    ("To-go packaging & disposables", (_C.PAPER_DISPOSABLES,)),
    ("Janitorial & sanitation program", (_C.CLEANING_CHEMICALS, _C.PAPER_DISPOSABLES)),
    ("Smallwares refresh", (_C.EQUIPMENT,)),
    ("Prime vendor conversion", ALL_CATEGORIES),
]
COLLEGE_THEMES: list[tuple[str, tuple[ProductCategory, ...]]] = [
    ("Campus dining program", (_C.PRODUCE, _C.MEAT_POULTRY, _C.DAIRY, _C.BAKERY)),
    ("Residence hall dining", (_C.PRODUCE, _C.DAIRY, _C.FROZEN, _C.BEVERAGES)),
]
# General themes that do not fit a kind of place (words of its name).
_QUICK_SERVICE = ("Bagel", "Coffee", "Burger", "Pizza", "Pizzeria", "Chicken", "Wings", "BBQ", "Sandwich", "Salad",
                  "Diner", "Smokehouse", "Taco", "Taqueria")
THEME_MISFITS: dict[str, tuple[str, ...]] = {
    "Seafood program": _QUICK_SERVICE,
    "Fryer oil & fries program": ("Bagel", "Coffee", "Salad"),
    "Protein supply agreement": ("Bagel", "Coffee"),
}
INDUSTRY_THEMES: dict[Industry, list[tuple[str, tuple[ProductCategory, ...]]]] = {
    Industry.MULTI_UNIT_CHAIN: [
        ("System-wide protein contract", (_C.MEAT_POULTRY,)),
        ("New-unit openings supply", ALL_CATEGORIES),
        ("Fryer oil & fries program", (_C.FROZEN, _C.DRY_GOODS)),
    ],
    Industry.HOTEL: [
        ("Banquet & catering menu", (_C.MEAT_POULTRY, _C.SEAFOOD, _C.PRODUCE, _C.BAKERY)),
        ("Breakfast buffet program", (_C.DAIRY, _C.BAKERY, _C.BEVERAGES, _C.PRODUCE)),
    ],
    Industry.SCHOOL: [
        ("School lunch program", (_C.PRODUCE, _C.DAIRY, _C.FROZEN, _C.BAKERY)),
        ("Summer meals program", (_C.PRODUCE, _C.DAIRY, _C.PAPER_DISPOSABLES)),
    ],
    Industry.HOSPITAL: [
        ("Patient tray line program", (_C.PRODUCE, _C.DAIRY, _C.MEAT_POULTRY, _C.PAPER_DISPOSABLES)),
        ("Cafeteria retail program", (_C.FROZEN, _C.BEVERAGES, _C.BAKERY, _C.PAPER_DISPOSABLES)),
    ],
    Industry.SENIOR_LIVING: [
        ("Resident dining program", (_C.PRODUCE, _C.DAIRY, _C.MEAT_POULTRY, _C.BAKERY)),
    ],
    Industry.CORPORATE_DINING: [
        ("Employee café program", (_C.PRODUCE, _C.MEAT_POULTRY, _C.BAKERY, _C.BEVERAGES)),
        ("Micro-market & grab-and-go", (_C.BEVERAGES, _C.BAKERY, _C.PAPER_DISPOSABLES)),
    ],
    Industry.CATERING: [
        ("Event catering supply", (_C.MEAT_POULTRY, _C.SEAFOOD, _C.PRODUCE, _C.PAPER_DISPOSABLES)),
    ],
}
SOURCE_WEIGHTS = {
    OpportunitySource.OUTBOUND: 25, OpportunitySource.INBOUND: 12, OpportunitySource.REFERRAL: 15,
    OpportunitySource.TRADE_SHOW: 10, OpportunitySource.PARTNER: 5,
    OpportunitySource.EXISTING_CUSTOMER: 20, OpportunitySource.WEBSITE: 8, OpportunitySource.OTHER: 5,
}
DEAL_DESCRIPTIONS = [
    "{theme} for {account}. Incumbent today: {competitor}.",
    "{account} wants fewer deliveries and more consistent quality on {product}.",
    "Menu refresh at {account}; chef is open to switching suppliers for {product}.",
    "{account} is consolidating suppliers and asked us to bid on the {theme_lower}.",
]
# (lost-reason key of the picklist, free-text detail)
LOST_REASONS = [
    ("no_budget", "Budget frozen for the fiscal year."),
    ("price", "Went with their GPO contract pricing."),
    ("price", "Minimum order too high for a single-unit operator."),
    ("service", "Delivery window didn't fit – they need drops before 6 am."),
    ("timing", "Ownership change; project shelved."),
    ("product_fit", "Could not meet their local and organic sourcing requirements."),
    ("no_response", "No decision – went dark after the tasting."),
]
LOST_REASONS_WITH_COMPETITOR = [
    ("price", "Lost on price – {competitor} matched our case pricing on proteins."),
    ("competitor", "Chose to stay with incumbent {competitor}."),
    ("price", "{competitor} offered a bigger volume rebate."),
    ("product_fit", "Chef preferred {competitor_s} spec on {product}."),
]
NEXT_STEPS = {
    "discovery": ["Book discovery call with the chef", "Get a recent invoice to benchmark pricing",
                  "Confirm who signs off on supplier changes"],
    "qualification": ["Schedule a tasting with the kitchen team", "Confirm budget and decision maker",
                      "Site visit to check receiving and storage"],
    "proposal": ["Follow up on the proposal", "Send revised pricing on {product}",
                 "Deliver samples of {product} for a kitchen trial"],
    "negotiation": ["Finalize delivery schedule and terms", "Get signature on the supply agreement",
                    "Agree fuel surcharge and order minimums"],
}

# --------------------------------------------------------------------------------------------
# Opportunity activities: which types fit a stage, and notes for each type
# --------------------------------------------------------------------------------------------

_A = ActivityType
STAGE_ACTIVITY_TYPES = {
    "discovery": [_A.CALL, _A.EMAIL, _A.MEETING, _A.SITE_VISIT],
    "qualification": [_A.CALL, _A.MEETING, _A.SITE_VISIT, _A.SAMPLE_DELIVERY, _A.TASTING, _A.DEMO],
    "proposal": [_A.PROPOSAL, _A.PRESENTATION, _A.TASTING, _A.SAMPLE_DELIVERY, _A.DEMO, _A.EMAIL],
    "negotiation": [_A.MEETING, _A.CALL, _A.EMAIL, _A.PROPOSAL],
}
ACTIVITY_NOTES: dict[ActivityType, list[tuple[str, str]]] = {
    _A.CALL: [
        ("Discovery call with the {title}",
         "Talked through current suppliers ({competitor} is primary), delivery frequency and pain points. "
         "Interested in {product} and fixed pricing on proteins."),
        ("Follow-up call: pricing questions",
         "{first} asked how our price on {product} compares with their current contract. Walked through volume tiers."),
        ("Call to confirm volumes",
         "Confirmed weekly volumes: roughly {n} cases across produce and proteins, two drops a week."),
    ],
    _A.EMAIL: [
        ("Sent price sheet and spec sheets", "Emailed current pricing and spec sheets for {product}."),
        ("Recap of tasting and next steps", "Sent a recap of the tasting with delivery schedule options."),
        ("Answered allergen questions", "Sent allergen statements for {product} for the dietitian's review."),
    ],
    _A.MEETING: [
        ("Kick-off meeting with the {title}",
         "Met {first} to map the buying process: chef picks products, {title} approves the supplier."),
        ("Contract review meeting",
         "Went through terms: net-30, fuel surcharge waived, two deliveries a week, 95% fill-rate guarantee."),
    ],
    _A.DEMO: [
        ("Online ordering demo",
         "Showed ordering app, order guides and invoice history to {first}; liked the par-level reminders."),
    ],
    _A.PROPOSAL: [
        ("Proposal sent: {theme}",
         "Sent proposal covering {n} SKUs with 90-day fixed pricing on centre-of-plate items "
         "and a 2% prompt-pay discount."),
        ("Revised proposal",
         "Revised proposal after feedback: swapped to a smaller pack size on {product} and lowered the drop minimum."),
    ],
    _A.PRESENTATION: [
        ("Presented program to ownership",
         "Presented menu costing, rebate program and local sourcing story to ownership and {first}."),
    ],
    _A.TASTING: [
        ("Product tasting with {first} ({title})",
         "Cooked {product} side by side with their current product. The kitchen preferred ours on yield and flavour."),
        ("Tasting: {product}", "Kitchen team liked the flavour but wants a smaller pack size."),
    ],
    _A.SAMPLE_DELIVERY: [
        ("Dropped off samples: {product}",
         "Left samples of {product} for the kitchen to run through the weekend service."),
    ],
    _A.SITE_VISIT: [
        ("Kitchen and receiving walk-through",
         "Walked the kitchen with {first}: small walk-in, receiving closes at 10 am, needs split-case dairy."),
        ("Site visit and storage check", "Checked dry storage and freezer space; they can take {n} cases per drop."),
    ],
}

# --------------------------------------------------------------------------------------------
# Customer interactions: type, direction, subject, notes – clearly positive, negative or neutral
# --------------------------------------------------------------------------------------------

_I = InteractionType
_IN, _OUT = Direction.INBOUND, Direction.OUTBOUND
POSITIVE_NOTES = [
    (_I.MEETING, _OUT, "Tasting with {first} ({title})",
     "{first} and the kitchen loved the {product} samples – better yield than what {competitor} has been sending. "
     "Wants pricing on a standing weekly order."),
    (_I.PHONE, _IN, "Thank-you call about deliveries",
     "{first} called to say Friday's delivery was complete and on time for the first time in months. "
     "Kitchen team is happy with the new driver."),
    (_I.EMAIL, _IN, "Menu change – adding our items",
     "{first} confirmed the spring menu will feature our {product}. Expect volume to roughly double from April."),
    (_I.MEETING, _OUT, "Quarterly business review",
     "Reviewed spend and a 98.6% fill rate. {first} is pleased with rebate tracking "
     "and asked about adding disposables."),
    (_I.DEMO, _OUT, "Online ordering walkthrough",
     "Showed the ordering app and custom order guides. {first} placed the first order from the app during the call."),
    (_I.PHONE, _OUT, "Check-in after first deliveries",
     "First three deliveries went well; everything arrived at temperature. "
     "{first} likes that substitutions are flagged before the truck leaves."),
    (_I.EVENT, _IN, "Visited our booth at the regional food show",
     "{first} and the sous chef spent half an hour sampling {product} and asked for a full price list."),
    (_I.EMAIL, _IN, "Referral to sister property",
     "{first} introduced us to the GM of their sister location, who is unhappy with {competitor}."),
    (_I.MEETING, _OUT, "Menu costing session",
     "Worked through plate costs with {first}; switching to our {product} saves about $0.40 a plate. Very positive."),
    (_I.PHONE, _IN, "Emergency order fulfilled",
     "They ran out of {product} before a 300-cover banquet; we had a will-call order ready "
     "within two hours. {first} was very grateful."),
    (_I.EMAIL, _IN, "Samples approved",
     "Purchasing approved {product} after the kitchen trial; spec sheet and allergen info accepted."),
    (_I.MEETING, _OUT, "Budget approved for next year",
     "{first} confirmed next year's budget is approved and they intend to keep us as primary supplier."),
    (_I.SUPPORT, _IN, "Credit processed quickly",
     "{first} thanked us for crediting the damaged case of {product} the same day."),
    (_I.PHONE, _OUT, "Happy with fixed pricing",
     "{first} said the 90-day fixed price on proteins made menu planning much easier this quarter."),
    (_I.DEMO, _OUT, "Sustainable packaging review",
     "Presented the compostable to-go line; {first} loved it – it helps them meet the city's packaging ordinance."),
]
NEGATIVE_NOTES = [
    (_I.SUPPORT, _IN, "Late delivery complaint",
     "Tuesday's truck arrived at 11:40, after the lunch rush started. {first} had to send staff to a "
     "cash-and-carry. Second late delivery this month."),
    (_I.PHONE, _IN, "Short-shipped order",
     "Order came in {n} cases short on {product} and no substitution was offered. {first} is frustrated."),
    (_I.EMAIL, _IN, "Price increase pushback",
     "{first} got the new price sheet: {product} is up 12% and {competitor} quoted lower. "
     "Threatening to move proteins."),
    (_I.SUPPORT, _IN, "Product quality issue",
     "{product} arrived off-spec; chef rejected two cases at the door. Asked for a credit and a better quality check."),
    (_I.PHONE, _IN, "Temperature issue at receiving",
     "Frozen items arrived partially thawed; receiving logged 28°F at the door. "
     "{first} wants a root cause from transportation."),
    (_I.MEETING, _OUT, "Price concerns at review",
     "{first} says our overall basket is about 6% above {competitor}. "
     "Considering splitting the order across two distributors."),
    (_I.EMAIL, _IN, "Invoice errors",
     "Third invoice this quarter with wrong pricing on {product}. "
     "Accounts payable is holding payment until it's fixed."),
    (_I.PHONE, _OUT, "Lost the dairy category",
     "{first} moved dairy to {competitor} because of a bundled rebate. The rest of the order stays for now."),
    (_I.SUPPORT, _IN, "Out of stock again",
     "{product} backordered for the second week running; chef had to 86 a menu item over the weekend."),
    (_I.EMAIL, _IN, "Driver complaint",
     "Driver blocked the alley during service and was rude to the kitchen manager. "
     "{first} asked for a different route time."),
    (_I.MEETING, _OUT, "Budget cut",
     "Next year's food budget is cut by 8%. {first} needs cheaper options on {product} or will go out to bid."),
    (_I.PHONE, _IN, "Missed delivery window",
     "Truck missed the 6–8 am window at the dock; breakfast service was delayed. Escalated to operations."),
    (_I.EMAIL, _IN, "Unhappy with responsiveness",
     "{first} says calls and emails went unanswered for a week while the rep was out. Wants a backup contact."),
    (_I.SUPPORT, _IN, "Wrong item delivered",
     "We delivered the wrong item instead of {product}; kitchen couldn't use it. Pick-up arranged and credit issued."),
]
NEUTRAL_NOTES = [
    (_I.EMAIL, _OUT, "Sent updated order guide",
     "Sent the updated order guide with new item numbers for {product}. No reply yet."),
    (_I.PHONE, _OUT, "Routine check-in",
     "Quick check-in with {first}. Volumes steady, no issues reported. Next menu change planned for the fall."),
    (_I.EMAIL, _IN, "Request for spec sheets",
     "{first} asked for spec sheets and nutrition info on {product} for the allergen binder."),
    (_I.MEETING, _OUT, "Introductory meeting",
     "Met {first} to introduce our programs. They are under contract with {competitor} until year end; "
     "open to a comparison then."),
    (_I.PHONE, _IN, "Delivery day change",
     "{first} asked to move deliveries from Tuesday to Wednesday starting next week. Route change requested."),
    (_I.EMAIL, _OUT, "Holiday delivery schedule", "Shared the holiday delivery schedule and order cut-off times."),
    (_I.PHONE, _IN, "Credit application question",
     "Accounts payable asked about net-30 terms and the credit application. Sent the form."),
    (_I.EVENT, _OUT, "Chef's roundtable",
     "{first} attended our chef's roundtable on plant-based menu trends. Took notes, no specific ask."),
    (_I.EMAIL, _IN, "Bid calendar",
     "{first} shared the procurement calendar: the next RFP goes out in March."),
    (_I.PHONE, _IN, "Staffing change",
     "New kitchen manager starts next month; {first} will introduce us. Ordering stays the same."),
    (_I.EMAIL, _OUT, "Price list request",
     "Sent current pricing on {product} and two alternatives at different price points."),
    (_I.SUPPORT, _IN, "Ordering portal password reset", "Reset the ordering portal login for the sous chef."),
    (_I.MEETING, _OUT, "Storage and drop-size review",
     "Reviewed storage with {first}; they can take deliveries three times a week, at most {n} cases per drop."),
]
INTERACTION_NEXT_STEPS = {
    Outcome.POSITIVE: ["Send pricing for a standing weekly order", "Set up the next tasting",
                       "Add items to the order guide"],
    Outcome.NEGATIVE: ["Credit the affected cases and follow up with transportation",
                       "Escalate to the operations manager", "Prepare a price comparison on the top items"],
    Outcome.NEUTRAL: ["Check back after the menu change", "Send the requested documents", ""],
}
NOTES_BY_OUTCOME = {Outcome.POSITIVE: POSITIVE_NOTES, Outcome.NEUTRAL: NEUTRAL_NOTES, Outcome.NEGATIVE: NEGATIVE_NOTES}
INTERACTION_STATUS_WEIGHT = {AccountStatus.CUSTOMER: 3.0, AccountStatus.PARTNER: 2.0,
                             AccountStatus.PROSPECT: 1.2, AccountStatus.INACTIVE: 0.6}
MEETING_PLACES = ["On site – kitchen", "On site – back office", "Kitchen Pantry test kitchen", "Video call"]
PARTICIPANT_FEEDBACK = [
    "Asked about gluten-free options.", "Wants delivery before 7 am.", "Interested in local produce.",
    "Concerned about case minimums.", "",
]

# --------------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------------

ACCOUNT_TASKS = [
    "Quarterly business review with {account}",
    "Review order guide and par levels with {account}",
    "Follow up on delivery issue at {account}",
    "Send holiday delivery schedule to {account}",
    "Renewal prep: pull 12-month spend for {account}",
]


# --------------------------------------------------------------------------------------------
# Account names per segment
# --------------------------------------------------------------------------------------------

def _possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def _restaurant_name(rng: random.Random, city: str) -> str:
    return rng.choice([
        f"{rng.choice(NAME_ADJECTIVES)} {rng.choice(NAME_NOUNS)} {rng.choice(RESTAURANT_KINDS)}",
        f"The {rng.choice(NAME_ADJECTIVES)} {rng.choice(NAME_NOUNS)}",
        f"{_possessive(rng.choice(LAST_NAMES))} {rng.choice(RESTAURANT_KINDS)}",
        f"{rng.choice(NAME_NOUNS)} & {rng.choice(NAME_NOUNS)}",
    ])


def _chain_name(rng: random.Random, city: str) -> str:
    return rng.choice([
        f"{rng.choice(NAME_ADJECTIVES)} {rng.choice(NAME_NOUNS)} {rng.choice(CHAIN_KINDS)}",
        f"{_possessive(rng.choice(LAST_NAMES))} {rng.choice(CHAIN_KINDS)}",
    ])


def _restaurant_group_name(rng: random.Random, city: str) -> str:
    return f"{rng.choice(LAST_NAMES + PLACES)} {rng.choice(GROUP_SUFFIXES)}"


def _hotel_name(rng: random.Random, city: str) -> str:
    return rng.choice([
        f"{rng.choice(PLACES)} {rng.choice(HOTEL_KINDS)}",
        f"The {rng.choice(LAST_NAMES)} {rng.choice(HOTEL_KINDS)}",
        f"{rng.choice(PLACES)} {rng.choice(HOTEL_KINDS)} {city}",
    ])


def _hotel_group_name(rng: random.Random, city: str) -> str:
    return rng.choice([f"{rng.choice(PLACES)} Hotels & Resorts", f"{rng.choice(LAST_NAMES)} Hospitality"])


def _school_name(rng: random.Random, city: str) -> str:
    return rng.choice([
        f"{city} Public Schools",
        f"{rng.choice(PLACES)} Independent School District",
        f"{rng.choice(PLACES)} Unified School District",
        f"{rng.choice(LAST_NAMES)} University Dining Services",
        f"{rng.choice(PLACES)} Community College",
    ])


def _hospital_name(rng: random.Random, city: str) -> str:
    return rng.choice([
        f"{rng.choice(SAINTS)} Medical Center",
        f"{rng.choice(PLACES)} Regional Hospital",
        f"{city} Children's Hospital",
        f"{rng.choice(PLACES)} Memorial Hospital",
        f"{rng.choice(SAINTS)} Hospital {city}",
    ])


def _health_system_name(rng: random.Random, city: str) -> str:
    return rng.choice([f"{rng.choice(PLACES)} Health System", f"{rng.choice(SAINTS)} Health"])


def _caterer_name(rng: random.Random, city: str) -> str:
    return rng.choice([
        f"{rng.choice(LAST_NAMES)} Catering Co.",
        f"{rng.choice(NAME_ADJECTIVES)} {rng.choice(NAME_NOUNS)} Events & Catering",
        f"{rng.choice(PLACES)} Catering",
        f"{_possessive(rng.choice(FIRST_NAMES))} Table Catering",
    ])


def _senior_living_name(rng: random.Random, city: str) -> str:
    return rng.choice([
        f"{rng.choice(PLACES)} Senior Living",
        f"{rng.choice(PLACES)} Retirement Community",
        f"The Residences at {rng.choice(PLACES)}",
        f"{rng.choice(PLACES)} Assisted Living & Memory Care",
    ])


def _corporate_dining_name(rng: random.Random, city: str) -> str:
    company = f"{rng.choice(CORPORATE_NAMES)} {rng.choice(CORPORATE_KINDS)}"
    return f"{company} {rng.choice(['Campus Dining', 'Employee Café', 'HQ Dining'])}"


def _other_name(rng: random.Random, city: str) -> str:
    return rng.choice([
        f"{rng.choice(PLACES)} Country Club", f"{city} Convention Center",
        f"{city} Ballpark Concessions", f"{rng.choice(PLACES)} Golf Club",
    ])


@dataclass(frozen=True)
class _Segment:
    """One kind of customer: how many, how big, what they are called, how many delivery sites."""

    industry: Industry
    standalone: int  # accounts without a parent
    groups: int  # parent accounts, each with 2–3 member accounts
    sizes: tuple[AccountSize, ...]  # drawn uniformly (repeat a size to weight it)
    locations: tuple[int, int]  # delivery locations per non-parent account
    name: Callable[[random.Random, str], str]
    group_name: Callable[[random.Random, str], str] | None = None


_S, _M, _L, _E = AccountSize.SMALL, AccountSize.MEDIUM, AccountSize.LARGE, AccountSize.ENTERPRISE
SEGMENTS = [
    _Segment(Industry.MULTI_UNIT_CHAIN, 18, 6, (_M, _L, _L, _E), (3, 8), _chain_name, _restaurant_group_name),
    _Segment(Industry.RESTAURANT, 85, 0, (_S, _S, _S, _M), (1, 1), _restaurant_name),
    _Segment(Industry.HOTEL, 30, 3, (_M, _M, _L), (1, 1), _hotel_name, _hotel_group_name),
    _Segment(Industry.SCHOOL, 35, 0, (_M, _L, _L), (2, 5), _school_name),
    _Segment(Industry.HOSPITAL, 20, 3, (_M, _L, _L), (1, 3), _hospital_name, _health_system_name),
    _Segment(Industry.CATERING, 28, 0, (_S, _S, _M), (1, 1), _caterer_name),
    _Segment(Industry.SENIOR_LIVING, 24, 0, (_S, _M, _M), (1, 1), _senior_living_name),
    _Segment(Industry.CORPORATE_DINING, 18, 0, (_M, _L), (1, 2), _corporate_dining_name),
    _Segment(Industry.OTHER, 6, 0, (_M,), (1, 1), _other_name),
]

CONTRACT_KINDS = [
    "Prime Vendor Agreement", "Food & Beverage Supply Agreement", "Produce & Dairy Supply Agreement",
    "Protein Program Agreement", "Disposables & Janitorial Supply Agreement",
]
REVENUE_RANGES = {  # the customer's annual revenue (or food budget), in dollars
    _S: (400_000, 3_000_000), _M: (3_000_000, 25_000_000),
    _L: (25_000_000, 200_000_000), _E: (200_000_000, 2_500_000_000),
}
HEALTH_HISTORY_MONTHS = 5
CHAIN_UNITS = {_S: (2, 4), _M: (3, 8), _L: (12, 35), _E: (60, 120)}  # a chain's restaurants, by size
UNIT_REVENUE = (1_200_000, 3_200_000)  # a year's sales of one chain restaurant, in dollars
CONTRACT_VALUE_RANGES = {_S: (25_000, 250_000), _M: (150_000, 1_200_000),
                         _L: (800_000, 6_000_000), _E: (4_000_000, 25_000_000)}
DEAL_VALUE_RANGES = {_S: (5_000, 60_000), _M: (30_000, 300_000),
                     _L: (150_000, 1_500_000), _E: (500_000, 4_000_000)}
CONTRACT_WEEKS = (13, 26, 26, 52)
WEEKLY_CASES = {_S: (2, 12), _M: (5, 30), _L: (15, 80), _E: (40, 250)}  # cases a week of one product
CASE_VOLUMES = {_S: (25, 150), _M: (80, 600), _L: (300, 2500), _E: (1200, 9000)}
SIZE_WEIGHT = {_S: 1.0, _M: 2.0, _L: 3.0, _E: 4.0}
STATUS_WEIGHTS = {AccountStatus.CUSTOMER: 55, AccountStatus.PROSPECT: 30,
                  AccountStatus.PARTNER: 4, AccountStatus.INACTIVE: 11}
TIER_WEIGHTS = {  # per size: strategic, key, standard, basic
    _S: (0, 5, 50, 45), _M: (2, 20, 58, 20), _L: (10, 45, 45, 0), _E: (60, 40, 0, 0),
}
WIN_RATE = {AccountStatus.PROSPECT: 0.0, AccountStatus.CUSTOMER: 0.5,
            AccountStatus.PARTNER: 0.45, AccountStatus.INACTIVE: 0.3}
DISCOUNTS = [Decimal(d) for d in ("0", "0", "0", "0", "2", "2.5", "3", "5", "7.5", "10", "12", "15")]

OPEN_STAGE_KEYS = ["discovery", "qualification", "proposal", "negotiation"]
STAGE_KEYS = [*OPEN_STAGE_KEYS, "closed_won", "closed_lost"]
VALUED_STAGE_KEYS = {"proposal", "negotiation", "closed_won"}  # reaching one of these needs products


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DemoSummary:
    login_email: str
    login_password: str
    counts: dict[str, int]


def _data_tables() -> list[str]:
    """Every table the models keep (many-to-many link tables included), never the migrations' own."""
    from tortoise import Tortoise

    tables: set[str] = set()
    for model in Tortoise.apps["models"].values():
        tables.add(model._meta.db_table)
        for name in model._meta.m2m_fields:
            tables.add(model._meta.fields_map[name].through)
    return sorted(tables)


async def erase_all_data() -> None:
    """Empty every data table (what `crm seed-demo --reset` starts from); the schema and the migration
    history stay. On PostgreSQL the read caches of running API processes are told (TRUNCATE fires no
    row triggers, so the change notification is sent here)."""
    from tortoise import connections

    from app.queries.read_cache import CHANNEL

    conn = connections.get("default")
    tables = _data_tables()
    if conn.capabilities.dialect == "postgres":
        quoted = ", ".join(f'"{t}"' for t in tables)
        await conn.execute_script(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE; SELECT pg_notify('{CHANNEL}', 'reset');")
        return
    await conn.execute_script("PRAGMA foreign_keys = OFF;")
    try:
        for table in tables:
            await conn.execute_script(f'DELETE FROM "{table}";')
        _, sequences = await conn.execute_query("SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'")
        if sequences:
            await conn.execute_script("DELETE FROM sqlite_sequence;")
    finally:
        await conn.execute_script("PRAGMA foreign_keys = ON;")


async def seed_demo(seed: int = 42) -> DemoSummary | None:
    """Fill an empty database with demo data; None (and nothing written) if it is not empty.

    "Empty" means no account exists and none of the demo users' e-mail addresses is taken.
    Every demo user signs in with DEMO_LOGIN_PASSWORD; DEMO_LOGIN_EMAIL is the admin.
    """
    if await Account.exists() or await User.filter(email__in=_staff_emails()).exists():
        return None
    pipeline = await ensure_default_pipeline()
    await ensure_default_lost_reasons()
    stages = {s.key: s for s in await PipelineStage.filter(pipeline_id=pipeline.id)}
    missing = set(STAGE_KEYS) - set(stages)
    if missing:
        raise RuntimeError(f"the default pipeline lacks the stages {sorted(missing)}")
    now = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    password_hash = hash_password(DEMO_LOGIN_PASSWORD)  # argon2 is slow: hash once, share it
    async with in_transaction() as conn:
        builder = _DemoBuilder(random.Random(seed), now, pipeline.id, stages, password_hash, conn)
        counts = await builder.build()
    return DemoSummary(DEMO_LOGIN_EMAIL, DEMO_LOGIN_PASSWORD, counts)


def _staff_emails() -> list[str]:
    return [DEMO_LOGIN_EMAIL] + [_staff_email(name) for name, *_ in MANAGERS + REPS]


def _staff_email(name: str) -> str:
    return f"{_slug(name, '.')}@{STAFF_DOMAIN}"


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------

def _slug(text: str, sep: str = "") -> str:
    words = re.sub(r"[^a-z0-9 ]", "", text.lower().replace("&", " ")).split()
    return sep.join(words)


def _money(value: Decimal, step: int = 1) -> Decimal:
    """Round to a multiple of `step` dollars, as a two-place Decimal."""
    return ((value / step).quantize(Decimal(1), ROUND_HALF_UP) * step).quantize(CENT)


def _batches(items: Sequence, size: int = BATCH_SIZE):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _weighted(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


@dataclass
class _AccountPlan:
    """An account and the rows that hang off it, built in memory before they get ids."""

    account: Account
    segment: _Segment
    city: City
    rep: User
    parent: _AccountPlan | None = None
    locations: list[Location] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    contracts: list[Contract] = field(default_factory=list)
    team: list[AccountTeamMember] = field(default_factory=list)
    deals: list[_DealPlan] = field(default_factory=list)


@dataclass
class _DealPlan:
    """An opportunity with the path it took through the pipeline and its child rows."""

    plan: _AccountPlan
    opportunity: Opportunity
    theme: str
    keys: list[str]  # stage keys in the order the deal entered them
    times: list[datetime]  # when it entered each of them
    amounts: list[Decimal]  # the deal amount after each move
    lines: list[OpportunityProduct]
    competitors: list[Competitor]

    @property
    def closed(self) -> bool:
        return self.keys[-1] in ("closed_won", "closed_lost")


# --------------------------------------------------------------------------------------------
# The builder
# --------------------------------------------------------------------------------------------

Row = TypeVar("Row", bound=Model)


class _DemoBuilder:
    def __init__(
        self, rng: random.Random, now: datetime, pipeline_id: int,
        stages: dict[str, PipelineStage], password_hash: str, conn: BaseDBAsyncClient,
    ) -> None:
        self.rng = rng
        self.now = now
        self.history_start = now - timedelta(days=HISTORY_DAYS)
        self.pipeline_id = pipeline_id
        self.stages = stages
        self.password_hash = password_hash
        self.conn = conn
        self.counts: dict[str, int] = {}
        self.first_new_id: dict[type[Model], int] = {}
        self.reps: list[User] = []
        self.rep_by_state: dict[str, User] = {}
        self.manager_of: dict[int, User] = {}
        self.products: list[Product] = []
        self.product_names: dict[int, str] = {}
        self.competitors: list[Competitor] = []
        self.plans: list[_AccountPlan] = []
        self.deals: list[_DealPlan] = []
        self.names_taken: set[str] = set()
        self.emails_taken: set[str] = set()

    async def build(self) -> dict[str, int]:
        await self._users()
        await self._catalogue()
        await self._competitors()
        await self._accounts()
        await self._opportunities()
        await self._interactions()
        await self._tasks()
        await self._finish()
        await self._health_history()
        return self.counts

    # ---- persistence -------------------------------------------------------------------

    async def _insert(self, model: type[Row], objects: list[Row], with_ids: bool = False) -> None:
        """bulk_create in batches; with_ids puts the new primary keys on the instances.

        Tortoise's bulk_create returns no ids. Ids only grow, and inside this transaction we are
        the only writer of these tables, so the new ids are those above the previous maximum,
        in insertion order.
        """
        if not objects:
            return
        # Tortoise types values_list() as tuples whatever `flat` says; flat=True gives the ids themselves.
        last = cast("list[int]", await model.all().order_by("-id").limit(1).values_list("id", flat=True))
        before = last[0] if last else 0
        self.first_new_id.setdefault(model, before + 1)
        await model.bulk_create(objects, batch_size=BATCH_SIZE)
        table = model._meta.db_table
        self.counts[table] = self.counts.get(table, 0) + len(objects)
        if with_ids:
            ids = cast("list[int]", await model.filter(id__gt=before).order_by("id").values_list("id", flat=True))
            if len(ids) != len(objects):
                raise RuntimeError(f"{table}: inserted {len(objects)} rows but found {len(ids)}")
            for obj, pk in zip(objects, ids, strict=True):
                obj.pk = pk  # the id: every model here has `id` as its primary key

    # ---- time --------------------------------------------------------------------------

    def _moment(self, lo: datetime, hi: datetime) -> datetime:
        """A random time between lo and hi, on a weekday in US business hours when possible."""
        span = (hi - lo).total_seconds()
        if span <= 0:
            return lo
        for _ in range(4):
            t = lo + timedelta(seconds=self.rng.uniform(0, span))
            t = t.replace(hour=self.rng.randint(13, 22), minute=self.rng.randint(0, 59), second=0, microsecond=0)
            if lo <= t <= hi and t.weekday() < 5:
                return t
        return lo + timedelta(seconds=int(self.rng.uniform(0, span)))

    def _days_after(self, start: datetime, lo: int, hi: int) -> datetime:
        return min(self.now, start + timedelta(days=self.rng.randint(lo, hi), minutes=self.rng.randint(0, 600)))

    # ---- users -------------------------------------------------------------------------

    async def _users(self) -> None:
        joined = self.now - timedelta(days=1200)
        admin = self._user(ADMIN_NAME, Role.ADMIN, ADMIN_TIMEZONE, joined, email=DEMO_LOGIN_EMAIL)
        managers = [self._user(name, Role.MANAGER, tz, joined) for name, tz in MANAGERS]
        await self._insert(User, [admin, *managers], with_ids=True)
        for name, tz, manager_index, territory in REPS:
            manager_id = managers[manager_index].id
            rep = self._user(name, Role.REP, tz, self._days_after(joined, 0, 300), manager_id=manager_id)
            self.reps.append(rep)
            self.rep_by_state.update(dict.fromkeys(territory, rep))
        await self._insert(User, self.reps, with_ids=True)
        managers_by_id = {m.id: m for m in managers}
        self.manager_of = {rep.id: managers_by_id[cast(int, rep.manager_id)] for rep in self.reps}  # every rep has one

    def _user(self, name: str, role: Role, tz: str, joined: datetime, email: str | None = None,
              manager_id: int | None = None) -> User:
        return User(
            email=email or _staff_email(name), name=name, password_hash=self.password_hash, role=role,
            manager_id=manager_id, timezone=tz, created_at=joined,
        )

    # ---- catalogue and competitors -----------------------------------------------------

    async def _catalogue(self) -> None:
        """The product list; SKUs that already exist are reused, not duplicated."""
        existing = {p.sku: p for p in await Product.filter(sku__in=[row[0] for row in PRODUCTS])}
        added = self.now - timedelta(days=1000)
        new = [
            Product(sku=sku, name=name, category=category, unit=unit, unit_price=Decimal(price),
                    description=f"{name}. Sold by the {unit.value}.", created_at=added)
            for sku, name, category, unit, price in PRODUCTS if sku not in existing
        ]
        await self._insert(Product, new, with_ids=True)
        self.products = list(existing.values()) + new
        self.product_names = {p.id: p.name for p in self.products}

    async def _competitors(self) -> None:
        """Real distributors with 1–2 battlecards each; existing names are reused as they are."""
        existing = {c.name: c for c in await Competitor.filter(name__in=[c["name"] for c in COMPETITORS])}
        added = self.now - timedelta(days=900)
        new = [
            Competitor(**{**spec, "market_share": Decimal(spec["market_share"])}, created_at=added)
            for spec in COMPETITORS if spec["name"] not in existing
        ]
        await self._insert(Competitor, new, with_ids=True)
        cards = [
            self._battlecard(competitor, template, added)
            for competitor in new
            for template in BATTLECARD_TEMPLATES[: self.rng.randint(1, 2)]
        ]
        await self._insert(BattleCard, cards)
        self.competitors = list(existing.values()) + new

    def _battlecard(self, competitor: Competitor, template: dict, added: datetime) -> BattleCard:
        name = competitor.name
        return BattleCard(
            competitor_id=competitor.id, title=template["title"].format(name=name),
            summary=template["summary"],
            objection_handling=[
                {k: v.format(name=name) for k, v in item.items()} for item in template["objection_handling"]
            ],
            proof_points=list(template["proof_points"]),
            created_at=self._days_after(added, 0, 200),
        )

    # ---- accounts ----------------------------------------------------------------------

    async def _accounts(self) -> None:
        for segment in SEGMENTS:
            for _ in range(segment.standalone):
                self.plans.append(self._plan_account(segment, segment.name, self.rng.choice(segment.sizes)))
            for _ in range(segment.groups):
                parent = self._plan_account(segment, segment.group_name, AccountSize.ENTERPRISE, is_group=True)
                self.plans.append(parent)
                for _ in range(self.rng.randint(2, 3)):
                    size = self.rng.choice(segment.sizes)
                    self.plans.append(self._plan_account(segment, segment.name, size, parent=parent))
        top = [p for p in self.plans if p.parent is None]
        members = [p for p in self.plans if p.parent is not None]
        await self._insert(Account, [p.account for p in top], with_ids=True)
        for plan in members:
            assert plan.parent is not None  # members are the plans with a parent
            plan.account.parent_id = plan.parent.account.id
        await self._insert(Account, [p.account for p in members], with_ids=True)

        for plan in self.plans:
            for row in (*plan.locations, *plan.contacts, *plan.contracts, *plan.team):
                row.account_id = plan.account.id
        await self._insert(Location, [row for p in self.plans for row in p.locations])
        await self._insert(Contact, [row for p in self.plans for row in p.contacts], with_ids=True)
        await self._insert(Contract, [row for p in self.plans for row in p.contracts])
        await self._insert(AccountTeamMember, [row for p in self.plans for row in p.team])

    def _plan_account(self, segment: _Segment, namer, size: AccountSize,
                      parent: _AccountPlan | None = None, is_group: bool = False) -> _AccountPlan:
        rng = self.rng
        city = rng.choice(self._territory(parent.rep) if parent else CITIES)
        rep = self.rep_by_state[city.region]
        status = self._status(parent, is_group)
        created = self._account_created(status, parent)
        account = Account(
            name=self._unique_name(lambda: namer(rng, city.name)), industry=segment.industry, size=size,
            annual_revenue=Decimal(rng.randrange(*REVENUE_RANGES[size], 10_000)),
            headquarters=self._address(city), status=status,
            tier=rng.choices(list(AccountTier), weights=TIER_WEIGHTS[size])[0],
            assigned_to_id=rep.id, health_score=self._health_score(status), created_at=created,
        )
        plan = _AccountPlan(account, segment, city, rep, parent)
        if not is_group:
            plan.locations = self._locations(plan)
            if segment.industry == Industry.MULTI_UNIT_CHAIN:  # a chain's revenue is its units'
                account.annual_revenue = Decimal(len(plan.locations) * rng.randrange(*UNIT_REVENUE, 10_000))
        plan.contacts = self._contacts(plan)
        plan.contracts = self._contracts(plan)
        plan.team = self._team(plan)
        active = [c for c in plan.contracts if c.status == ContractStatus.ACTIVE]
        account.renewal_date = active[0].end_date if active else None
        return plan

    def _status(self, parent: _AccountPlan | None, is_group: bool) -> AccountStatus:
        if is_group or (parent and self.rng.random() < 0.8):
            return AccountStatus.CUSTOMER
        return _weighted(self.rng, STATUS_WEIGHTS)

    def _account_created(self, status: AccountStatus, parent: _AccountPlan | None) -> datetime:
        if parent:
            return self._days_after(parent.account.created_at, 0, 120)
        if status == AccountStatus.PROSPECT and self.rng.random() < 0.6:
            return self._moment(self.now - timedelta(days=700), self.now - timedelta(days=20))
        return self._moment(self.now - timedelta(days=1100), self.now - timedelta(days=735))

    def _health_score(self, status: AccountStatus) -> int | None:
        if status == AccountStatus.PROSPECT:
            return None
        if status == AccountStatus.INACTIVE:
            return self.rng.randint(15, 45)
        return int(self.rng.triangular(40, 98, 78))

    def _unique_name(self, make: Callable[[], str]) -> str:
        for _ in range(200):
            name = make()
            if name not in self.names_taken:
                self.names_taken.add(name)
                return name
        raise RuntimeError("ran out of demo account names")

    def _street(self) -> str:
        return f"{self.rng.randint(100, 9899)} {self.rng.choice(STREET_NAMES)} {self.rng.choice(STREET_SUFFIXES)}"

    def _postal_code(self, city: City) -> str:
        return f"{city.postal_code[:3]}{self.rng.randint(1, 99):02d}"

    def _phone(self, city: City) -> str:
        return f"({city.area_code}) 555-01{self.rng.randint(0, 99):02d}"

    def _address(self, city: City) -> dict:
        return {"street": self._street(), "city": city.name, "region": city.region,
                "postalCode": self._postal_code(city), "country": "US"}

    def _locations(self, plan: _AccountPlan) -> list[Location]:
        rng, account = self.rng, plan.account
        assert account.headquarters is not None  # every planned account has its address
        chain = account.industry == Industry.MULTI_UNIT_CHAIN
        count = rng.randint(*(CHAIN_UNITS[account.size] if chain else plan.segment.locations))
        rows = []
        for i in range(count):  # chains spread over the rep's territory; others stay in town
            city = rng.choice(self._territory(plan.rep)) if chain and i else plan.city
            street = account.headquarters["street"] if i == 0 else self._street()
            rows.append(Location(
                name=self._location_name(plan, i, city), street=street, city=city.name, region=city.region,
                postal_code=account.headquarters["postalCode"] if i == 0 else self._postal_code(city),
                country="US", phone=self._phone(city), delivery_notes=rng.choice(DELIVERY_NOTES),
                is_primary=i == 0, created_at=self._days_after(account.created_at, 0, 5),
            ))
        return rows

    def _territory(self, rep: User) -> list[City]:
        return [c for c in CITIES if self.rep_by_state[c.region] is rep]

    def _location_name(self, plan: _AccountPlan, index: int, city: City) -> str:
        industry, name = plan.account.industry, plan.account.name
        if industry == Industry.MULTI_UNIT_CHAIN:
            return f"{name} #{101 + index} – {city.name}"
        if industry == Industry.SCHOOL and ("Schools" in name or "District" in name):
            return SCHOOL_BUILDINGS[index % len(SCHOOL_BUILDINGS)]
        if industry == Industry.SCHOOL:
            return f"{name} – {CAMPUS_SITES[index % len(CAMPUS_SITES)]}"
        if industry == Industry.HOSPITAL:
            return f"{name} – {HOSPITAL_SITES[index % len(HOSPITAL_SITES)]}"
        return name if index == 0 else f"{name} – Building {chr(ord('A') + index)}"

    def _contacts(self, plan: _AccountPlan) -> list[Contact]:
        rng, account = self.rng, plan.account
        low, high = {_S: (1, 2), _M: (1, 3), _L: (2, 4), _E: (3, 4)}[account.size]
        pool = CONTACT_TITLES[account.industry]
        deciders = [t for t in pool if t[1] == ContactRole.DECISION_MAKER]
        primary = rng.choice(deciders)  # the primary contact is someone who can sign
        others = [t for t in pool if t is not primary]
        titles = [primary, *rng.sample(others, min(len(others), rng.randint(low, high) - 1))]
        domain = f"{_slug(' '.join(account.name.split()[:3]))}.example"
        rows = []
        for i, (title, role) in enumerate(titles):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            email = self._unique_email(f"{_slug(first)}.{_slug(last)}", domain)
            rows.append(Contact(
                first_name=first, last_name=last, email=email, phone=self._phone(plan.city), title=title,
                role=role, is_primary=i == 0, created_at=self._days_after(account.created_at, 0, 5),
            ))
        return rows

    def _unique_email(self, local: str, domain: str) -> str:
        email, n = f"{local}@{domain}", 1
        while email in self.emails_taken:
            n += 1
            email = f"{local}{n}@{domain}"
        self.emails_taken.add(email)
        return email

    def _contracts(self, plan: _AccountPlan) -> list[Contract]:
        """Customers and partners have an active contract (some a renewed, expired one before it),
        inactive accounts an expired or terminated one, a few prospects a draft."""
        rng, status = self.rng, plan.account.status
        today = self.now.date()
        if status in (AccountStatus.CUSTOMER, AccountStatus.PARTNER):
            term_days = 365 * rng.choice([1, 2, 3])
            start = today - timedelta(days=rng.randint(15, term_days - 20))
            rows = [self._contract(plan, start, start + timedelta(days=term_days), ContractStatus.ACTIVE)]
            if rng.random() < 0.4:
                previous_end = start - timedelta(days=1)
                rows.append(self._contract(plan, previous_end - timedelta(days=365), previous_end,
                                           ContractStatus.EXPIRED))
            return rows
        if status == AccountStatus.INACTIVE:
            end = today - timedelta(days=rng.randint(30, 400))
            ended = ContractStatus.TERMINATED if rng.random() < 0.25 else ContractStatus.EXPIRED
            return [self._contract(plan, end - timedelta(days=365), end, ended)]
        if rng.random() < 0.05:
            start = today + timedelta(days=rng.randint(15, 60))
            return [self._contract(plan, start, start + timedelta(days=365), ContractStatus.DRAFT)]
        return []

    def _contract(self, plan: _AccountPlan, start: date, end: date, status: ContractStatus) -> Contract:
        value = Decimal(self.rng.randrange(*CONTRACT_VALUE_RANGES[plan.account.size], 100))
        drafted = datetime.combine(start - timedelta(days=14), datetime.min.time(), timezone.utc).replace(hour=15)
        return Contract(
            name=f"{start.year} {self.rng.choice(CONTRACT_KINDS)}", value=value.quantize(CENT),
            start_date=start, end_date=end, status=status,
            created_at=min(self.now, max(plan.account.created_at, drafted)),
        )

    def _team(self, plan: _AccountPlan) -> list[AccountTeamMember]:
        account, rng = plan.account, self.rng
        if account.tier not in (AccountTier.STRATEGIC, AccountTier.KEY) and rng.random() > 0.15:
            return []
        start = account.created_at.date()
        rows = [AccountTeamMember(user_id=plan.rep.id, role=TeamRole.ACCOUNT_MANAGER, is_primary=True,
                                  start_date=start, created_at=account.created_at)]
        colleagues = [r for r in self.reps if r is not plan.rep]
        for role in (TeamRole.SALES_REP, TeamRole.SUPPORT):
            if rng.random() < 0.5:
                joined = self._days_after(account.created_at, 0, 400)
                ended = rng.random() < 0.15 and joined < self.now - timedelta(days=60)
                rows.append(AccountTeamMember(
                    user_id=rng.choice(colleagues).id, role=role, start_date=joined.date(),
                    end_date=self._days_after(joined, 30, 300).date() if ended else None, created_at=joined,
                ))
        return rows

    # ---- opportunities -----------------------------------------------------------------

    async def _opportunities(self) -> None:
        weights = [SIZE_WEIGHT[p.account.size] * (0.5 if p.account.status == AccountStatus.INACTIVE else 1)
                   for p in self.plans]
        for plan in self.rng.choices(self.plans, weights=weights, k=OPPORTUNITY_COUNT):
            deal = self._plan_deal(plan)
            plan.deals.append(deal)
            self.deals.append(deal)
        await self._insert(Opportunity, [d.opportunity for d in self.deals], with_ids=True)

        for deal in self.deals:
            for line in deal.lines:
                line.opportunity_id = deal.opportunity.id
        await self._insert(OpportunityProduct, [line for d in self.deals for line in d.lines])
        await self._insert(StageTransition, [t for d in self.deals for t in self._transitions(d)])
        # A contact made on a deal is an interaction and its linked activity (app.domain.contact_log).
        activities = [(d, a) for d in self.deals for a in self._activities(d)]
        contacts = [(d, a) for d, a in activities if records_contact(a.type, a.completed_at)]
        records = [self._contact_record(d, a) for d, a in contacts]
        await self._insert(CustomerInteraction, records, with_ids=True)
        for (_, activity), record in zip(contacts, records, strict=True):
            activity.interaction_id = record.id
        await self._insert(OpportunityActivity, [a for _, a in activities])
        await self._link_competitors()

    def _contact_record(self, deal: _DealPlan, activity: OpportunityActivity) -> CustomerInteraction:
        """The interaction a done contact-type activity records: the deal's account and contact, its notes."""
        sentiment = sentiment_score(activity.subject, activity.description,
                                    competitors=[c.name for c in self.competitors])
        return CustomerInteraction(
            account_id=deal.opportunity.account_id, contact_id=deal.opportunity.contact_id,
            opportunity_id=deal.opportunity.id, type=INTERACTION_FOR_ACTIVITY[ActivityType(activity.type)],
            direction=Direction.OUTBOUND, subject=activity.subject, description=activity.description,
            outcome=activity.outcome, next_steps=activity.next_steps, sentiment=sentiment,
            sentiment_label=sentiment_label(sentiment).value, occurred_at=activity.completed_at,
            created_by_id=activity.created_by_id, created_at=activity.created_at,
        )

    def _plan_deal(self, plan: _AccountPlan) -> _DealPlan:
        """One opportunity: when it started, the path it took, what it quotes, who it competes with."""
        rng, account = self.rng, plan.account
        created = self._deal_created(account)
        keys = self._stage_path((self.now - created).days, WIN_RATE[account.status])
        times = self._stage_times(keys, created)
        stage = self.stages[keys[-1]]
        closed = stage.key in ("closed_won", "closed_lost")
        if not closed:
            times = self._lately(stage, times)
            created = times[0]
        expected_close = self._expected_close(created, times[-1], closed)
        theme, categories = self._theme(account)
        competitors = self._deal_competitors(lost=stage.key == "closed_lost")
        priced = any(k in VALUED_STAGE_KEYS for k in keys) or rng.random() < 0.4
        lines = self._lines(account.size, categories, created) if priced else []
        value = products_value(line.total_price for line in lines) if lines else self._estimate(account.size)
        product = self.product_names[rng.choice(lines).product_id] if lines else rng.choice(self.products).name
        fill = {
            "theme": theme, "theme_lower": theme.lower(), "account": account.name, "product": product,
            "competitor": competitors[0].name if competitors else "self-distributed / cash-and-carry",
        }
        opportunity = Opportunity(
            # A program is named for the year it starts: when the deal is expected to close.
            name=f"{account.name} – {theme}" + (f" {expected_close.year}" if rng.random() < 0.5 else ""),
            account_id=account.id, contact_id=self._deal_contact(plan), pipeline_id=self.pipeline_id,
            stage_id=stage.id, stage_entered_at=times[-1], probability=stage.probability,
            forecast_category=stage.forecast_category, value=value, budget=self._budget(value, keys),
            value_source=ValueSource.PRODUCTS if lines else ValueSource.MANUAL,
            expected_close_date=expected_close,
            actual_close_date=times[-1].date() if closed else None,
            source=self._source(account.status), assigned_to_id=plan.rep.id,
            # Drawn here, in the order the seed always drew it (same seed, same data).
            lost_reason_key=(lost := self._lost_reason(competitors, product) if stage.key == "closed_lost" else None)
            and lost[0],
            lost_reason=lost and lost[1],
            next_step="" if closed else rng.choice(NEXT_STEPS[stage.key]).format(**fill),
            description=rng.choice(DEAL_DESCRIPTIONS).format(**fill), version=1, created_at=created,
        )
        return _DealPlan(plan, opportunity, theme, keys, times, self._amounts(keys, value), lines, competitors)

    def _deal_created(self, account: Account) -> datetime:
        """Within the two years, after the account appeared; inactive accounts stopped buying a while ago."""
        earliest = max(account.created_at, self.history_start)
        quiet_days = 200 if account.status == AccountStatus.INACTIVE else 0
        latest = self.now - timedelta(days=quiet_days, hours=6)
        return self._moment(earliest, max(latest, earliest + timedelta(hours=1)))

    def _estimate(self, size: AccountSize) -> Decimal:
        """A rough deal size before any products are quoted."""
        return _money(Decimal(self.rng.randrange(*DEAL_VALUE_RANGES[size])), 500)

    def _stage_path(self, age_days: int, win_rate: float) -> list[str]:
        """The stages a deal went through: forward, sometimes skipping one, rarely back once."""
        rng = self.rng
        closed = rng.random() < min(0.97, (age_days / 200) ** 1.5)  # old deals are mostly decided
        won = closed and rng.random() < win_rate
        if won:
            last_open = 3 if rng.random() < 0.85 else 2  # usually from negotiation, sometimes from proposal
        elif closed:
            last_open = rng.choices(range(4), weights=[25, 30, 25, 20])[0]
        else:
            reachable = min(3, age_days // 7)  # young deals are still early in the pipeline
            last_open = rng.choices(range(reachable + 1), weights=[28, 26, 26, 20][: reachable + 1])[0]
        steps = [1 if last_open >= 1 and rng.random() < 0.12 else 0]
        while steps[-1] < last_open:
            skip = steps[-1] + 2 <= last_open and rng.random() < 0.12
            steps.append(steps[-1] + (2 if skip else 1))
        if len(steps) >= 2 and rng.random() < 0.08:  # re-scoped once: back a stage, then on again
            i = rng.randrange(1, len(steps))
            steps[i + 1:i + 1] = [steps[i] - 1, steps[i]]
        keys = [OPEN_STAGE_KEYS[s] for s in steps]
        if closed:
            keys.append("closed_won" if won else "closed_lost")
        return keys

    def _lately(self, stage: PipelineStage, times: list[datetime]) -> list[datetime]:
        """An open deal is worked: in its stage for 0.1–1.4 × the stage's expected duration (so a minority
        runs late), its whole history moved later when it had sat there longer."""
        in_stage = timedelta(days=max(stage.expected_duration_days or 0, 3) * self.rng.uniform(0.1, 1.4))
        shift = self.now - in_stage - times[-1]
        return [t + shift for t in times] if shift > timedelta(0) else times

    def _stage_times(self, keys: list[str], created: datetime) -> list[datetime]:
        """Strictly increasing entry times from `created`, compressed to end before now."""
        gaps = []
        for key in keys[:-1]:
            typical = max(self.stages[key].expected_duration_days, 3)
            gaps.append(timedelta(minutes=int(typical * 1440 * self.rng.uniform(0.3, 2.5)) + self.rng.randint(0, 600)))
        room = self.now - timedelta(hours=1) - created
        total = sum(gaps, timedelta())
        if total > room:
            factor = room / total * 0.95
            gaps = [gap * factor for gap in gaps]
        times = [created]
        for gap in gaps:
            times.append(times[-1] + max(timedelta(minutes=int(gap.total_seconds() // 60)), timedelta(minutes=5)))
        return times

    def _amounts(self, keys: list[str], value: Decimal) -> list[Decimal]:
        """An early estimate until the deal first reaches a priced stage, then the quoted value."""
        priced_from = next((i for i, k in enumerate(keys) if k in VALUED_STAGE_KEYS), len(keys))
        if priced_from == len(keys):
            return [value] * len(keys)
        estimate = _money(value * Decimal(self.rng.randint(70, 130)) / 100, 500)
        return [estimate if i < priced_from else value for i in range(len(keys))]

    def _theme(self, account: Account) -> tuple[str, tuple[ProductCategory, ...]]:
        """A program that fits the customer: colleges run campus dining, not school lunch; a bagel shop
        buys no seafood program."""
        college = any(word in account.name for word in ("University", "College"))
        specific = COLLEGE_THEMES if college else INDUSTRY_THEMES.get(account.industry, [])
        unfit = {theme for theme, words in THEME_MISFITS.items() if any(word in account.name for word in words)}
        specific = [theme for theme in specific if theme[0] not in unfit]
        general = [theme for theme in GENERAL_THEMES if theme[0] not in unfit]
        return self.rng.choice(specific if specific and self.rng.random() < 0.5 else general)

    def _lines(self, size: AccountSize, categories: tuple[ProductCategory, ...],
               created: datetime) -> list[OpportunityProduct]:
        rng = self.rng
        candidates = [p for p in self.products if p.category in categories] or self.products
        chosen = rng.sample(candidates, min(len(candidates), rng.randint(2, 6)))
        lines = [self._line(product, size, created) for product in chosen]
        while products_value(line.total_price for line in lines) < 1000:  # the proposal stage's minimum
            lines.append(self._line(rng.choice(candidates), size, created))
        return lines

    def _line(self, product: Product, size: AccountSize, created: datetime) -> OpportunityProduct:
        rng = self.rng
        # Food is bought as a supply contract of so many units a week; equipment once.
        weeks = None if product.category == ProductCategory.EQUIPMENT else rng.choice(CONTRACT_WEEKS)
        cases = rng.randint(*(CASE_VOLUMES if weeks is None else WEEKLY_CASES)[size])
        if product.unit == ProductUnit.PALLET:
            cases = max(1, cases // 50)
        elif product.category == ProductCategory.EQUIPMENT:
            cases = max(1, cases // 20)
        elif product.unit in (ProductUnit.POUND, ProductUnit.KILOGRAM, ProductUnit.GALLON, ProductUnit.DOZEN):
            cases *= 4
        quantity = Decimal(cases)
        unit_price = (product.unit_price * Decimal(100 + rng.randint(-6, 4)) / 100).quantize(CENT, ROUND_HALF_UP)
        discount = rng.choice(DISCOUNTS)
        return OpportunityProduct(
            product_id=product.id, quantity=quantity, unit_price=unit_price, discount=discount, contract_weeks=weeks,
            total_price=line_total(quantity, unit_price, discount, weeks),
            created_at=created + timedelta(minutes=rng.randint(30, 240)),
        )

    def _deal_contact(self, plan: _AccountPlan) -> int | None:
        contact = self._pick_contact(plan, none_chance=0.1)
        return contact.id if contact else None

    def _pick_contact(self, plan: _AccountPlan, none_chance: float) -> Contact | None:
        """Mostly the primary contact, sometimes another one, sometimes nobody in particular."""
        if not plan.contacts or self.rng.random() < none_chance:
            return None
        return plan.contacts[0] if self.rng.random() < 0.65 else self.rng.choice(plan.contacts)

    def _deal_competitors(self, lost: bool) -> list[Competitor]:
        if self.rng.random() > (0.65 if lost else 0.4):
            return []
        weights = [float(c.market_share) + 0.02 for c in self.competitors]
        picked = self.rng.choices(self.competitors, weights=weights, k=self.rng.randint(1, 2))
        return list(dict.fromkeys(picked))

    def _budget(self, value: Decimal, keys: list[str]) -> Decimal | None:
        if keys == ["discovery"] and self.rng.random() < 0.5:
            return None
        return _money(value * Decimal(self.rng.randint(90, 135)) / 100, 100)

    def _expected_close(self, created: datetime, entered: datetime, closed: bool) -> date:
        if closed:
            expected = entered.date() + timedelta(days=self.rng.randint(-20, 30))
        else:
            expected = self.now.date() + timedelta(days=self.rng.randint(-20, 120))
        return max(expected, created.date() + timedelta(days=7))

    def _source(self, status: AccountStatus) -> OpportunitySource:
        source = _weighted(self.rng, SOURCE_WEIGHTS)
        if source == OpportunitySource.EXISTING_CUSTOMER and status == AccountStatus.PROSPECT:
            return OpportunitySource.OUTBOUND
        return source

    def _lost_reason(self, competitors: list[Competitor], product: str) -> tuple[str, str]:
        """(picklist key, free-text detail)."""
        if competitors and self.rng.random() < 0.7:
            key, text = self.rng.choice(LOST_REASONS_WITH_COMPETITOR)
            name = competitors[0].name
            return key, text.format(competitor=name, competitor_s=_possessive(name), product=product)
        return self.rng.choice(LOST_REASONS)

    def _transitions(self, deal: _DealPlan) -> list[StageTransition]:
        rows = []
        for i, key in enumerate(deal.keys):
            before = self.stages[deal.keys[i - 1]] if i else None
            after = self.stages[key]
            rows.append(StageTransition(
                opportunity_id=deal.opportunity.id, from_stage_id=before.id if before else None,
                to_stage_id=after.id, at=deal.times[i], by_id=deal.plan.rep.id, source=TransitionSource.IMPORT,
                amount_before=deal.amounts[i - 1] if i else None, amount_after=deal.amounts[i],
                probability_before=before.probability if before else None, probability_after=after.probability,
            ))
        return rows

    def _activities(self, deal: _DealPlan) -> list[OpportunityActivity]:
        """Completed activities in each open stage the deal passed through, plus some planned ones.

        The activities a stage requires before the next move (a call in discovery, a proposal or
        presentation before negotiation) are always there.
        """
        rng, rows = self.rng, []
        ends = deal.times[1:] + [self.now]
        for i, key in enumerate(deal.keys):
            if key not in STAGE_ACTIVITY_TYPES:
                continue
            next_key = deal.keys[i + 1] if i + 1 < len(deal.keys) else None
            types = [rng.choice(STAGE_ACTIVITY_TYPES[key]) for _ in range(rng.randint(0, 2))]
            if key == "discovery" and next_key and next_key != "closed_lost":
                types.append(ActivityType.CALL)
            if next_key == "negotiation":
                types.append(rng.choice([ActivityType.PROPOSAL, ActivityType.PRESENTATION]))
            for activity_type in types:
                done = self._moment(deal.times[i], ends[i] - timedelta(minutes=1))
                rows.append(self._activity(deal, activity_type, done, lost=next_key == "closed_lost"))
        if not deal.closed and rng.random() < 0.45:
            planned = self._moment(self.now + timedelta(days=1), self.now + timedelta(days=21))
            activity_type = rng.choice(STAGE_ACTIVITY_TYPES[deal.keys[-1]])
            rows.append(self._activity(deal, activity_type, planned, lost=False, planned=True))
        return rows

    def _activity(self, deal: _DealPlan, activity_type: ActivityType, when: datetime, lost: bool,
                  planned: bool = False) -> OpportunityActivity:
        rng = self.rng
        subject, description = rng.choice(ACTIVITY_NOTES[activity_type])
        fill = self._note_placeholders(deal.plan, deal.opportunity.contact_id, deal)
        if planned:
            outcome, created = None, self.now - timedelta(days=rng.randint(0, 5))
        else:
            outcome = rng.choices(list(Outcome), weights=[20, 30, 50] if lost else [55, 35, 10])[0]
            created = when - timedelta(days=rng.randint(0, 4))
        return OpportunityActivity(
            opportunity_id=deal.opportunity.id, type=activity_type, subject=subject.format(**fill)[:300],
            description=description.format(**fill), outcome=outcome,
            next_steps="" if planned else rng.choice(["", "Follow up next week", "Send pricing", "Book a tasting"]),
            scheduled_at=when, completed_at=None if planned else when, created_by_id=deal.plan.rep.id,
            created_at=max(deal.times[0], min(created, when)),
        )

    def _note_placeholders(self, plan: _AccountPlan, contact_id: int | None, deal: _DealPlan | None = None) -> dict:
        rng = self.rng
        contact = next((c for c in plan.contacts if c.id == contact_id), plan.contacts[0] if plan.contacts else None)
        products = [self.product_names[line.product_id] for line in deal.lines] if deal and deal.lines else []
        return {
            "first": contact.first_name if contact else "The chef",
            "title": contact.title if contact else "Executive Chef",
            "product": rng.choice(products) if products else rng.choice(self.products).name,
            "competitor": (deal.competitors[0] if deal and deal.competitors else rng.choice(self.competitors)).name,
            "theme": deal.theme if deal else "supply program",
            "n": rng.randint(3, 40),
        }

    async def _link_competitors(self) -> None:
        """The opportunity ↔ competitor M2M, written straight into its through table."""
        relation = cast(ManyToManyFieldInstance, Opportunity._meta.fields_map["competitors"])
        pairs = [(d.opportunity.id, c.id) for d in self.deals for c in d.competitors]
        for chunk in _batches(pairs):
            values = ", ".join(f"({opportunity_id}, {competitor_id})" for opportunity_id, competitor_id in chunk)
            await self.conn.execute_query(
                f"INSERT INTO {relation.through} ({relation.backward_key}, {relation.forward_key}) VALUES {values}"
            )
        self.counts[relation.through] = len(pairs)

    # ---- customer interactions ---------------------------------------------------------

    async def _interactions(self) -> None:
        weights = [SIZE_WEIGHT[p.account.size] * INTERACTION_STATUS_WEIGHT[p.account.status] for p in self.plans]
        chosen = self.rng.choices(self.plans, weights=weights, k=INTERACTION_COUNT)
        planned = [self._interaction(plan) for plan in chosen]
        await self._insert(CustomerInteraction, [interaction for interaction, _ in planned], with_ids=True)
        # On a deal, each also shows as its one linked deal activity.
        await self._insert(OpportunityActivity, [
            OpportunityActivity(
                opportunity_id=i.opportunity_id, type=ACTIVITY_FOR_INTERACTION[InteractionType(i.type)],
                subject=i.subject, description=i.description, outcome=i.outcome, next_steps=i.next_steps,
                scheduled_at=i.occurred_at, completed_at=i.occurred_at, created_by_id=i.created_by_id,
                created_at=i.created_at, interaction_id=i.id)
            for i, _ in planned if i.opportunity_id is not None])
        participants = []
        for interaction, people in planned:
            for row in people:
                row.interaction_id = interaction.id
                participants.append(row)
        await self._insert(InteractionParticipant, participants)

    def _interaction(self, plan: _AccountPlan) -> tuple[CustomerInteraction, list[InteractionParticipant]]:
        """A logged touchpoint with a clearly positive, negative or neutral note, scored as recordInteraction does."""
        rng, account = self.rng, plan.account
        deal = rng.choice(plan.deals) if plan.deals and rng.random() < 0.3 else None
        occurred = self._moment(*self._interaction_window(plan, deal))
        outcome = rng.choices(list(Outcome), weights=[40, 35, 25])[0]
        kind, direction, subject, description = rng.choice(NOTES_BY_OUTCOME[outcome])
        contact = self._pick_contact(plan, none_chance=0.15)
        fill = self._note_placeholders(plan, contact.id if contact else None, deal)
        next_steps = rng.choice(INTERACTION_NEXT_STEPS[outcome]) if rng.random() < 0.5 else ""
        sentiment = sentiment_score(subject.format(**fill)[:300], description.format(**fill),
                                    competitors=[c.name for c in self.competitors])
        interaction = CustomerInteraction(
            account_id=account.id, contact_id=contact.id if contact else None,
            opportunity_id=deal.opportunity.id if deal else None, type=kind, direction=direction,
            subject=subject.format(**fill)[:300], description=description.format(**fill),
            sentiment=sentiment,
            outcome=outcome if rng.random() < 0.9 else None, next_steps=next_steps,
            follow_up_date=occurred + timedelta(days=rng.randint(2, 14)) if next_steps else None,
            duration_minutes=self._duration(kind), location=self._interaction_place(kind, plan.city),
            occurred_at=occurred, created_by_id=self._author(plan).id,
            created_at=min(self.now, occurred + timedelta(minutes=rng.randint(5, 120))),
        )
        interaction.sentiment_label = sentiment_label(sentiment).value
        return interaction, self._participants(plan, kind, direction, contact)

    def _interaction_window(self, plan: _AccountPlan, deal: _DealPlan | None) -> tuple[datetime, datetime]:
        """While the deal was alive, else within the history; inactive accounts went quiet months ago."""
        if deal:
            start, end = deal.times[0], deal.times[-1] if deal.closed else self.now
        else:
            start = max(plan.account.created_at, self.history_start)
            quiet = plan.account.status == AccountStatus.INACTIVE
            end = self.now - timedelta(days=120) if quiet else self.now
        return start, max(end, start + timedelta(hours=1))

    def _duration(self, kind: InteractionType) -> int | None:
        ranges = {_I.PHONE: (4, 35), _I.MEETING: (30, 90), _I.DEMO: (30, 60), _I.EVENT: (60, 240), _I.SUPPORT: (5, 20)}
        return self.rng.randint(*ranges[kind]) if kind in ranges else None

    def _interaction_place(self, kind: InteractionType, city: City) -> str:
        if kind in (_I.MEETING, _I.DEMO):
            return self.rng.choice(MEETING_PLACES)
        if kind == _I.EVENT:
            return f"Regional food show – {city.name}"
        return ""

    def _author(self, plan: _AccountPlan) -> User:
        roll = self.rng.random()
        if roll < 0.85:
            return plan.rep
        return self.manager_of[plan.rep.id] if roll < 0.95 else self.rng.choice(self.reps)

    def _participants(self, plan: _AccountPlan, kind: InteractionType, direction: Direction,
                      contact: Contact | None) -> list[InteractionParticipant]:
        if kind not in (_I.MEETING, _I.DEMO, _I.EVENT) or contact is None:
            return []
        others = [c for c in plan.contacts if c is not contact]
        people = [contact, *self.rng.sample(others, min(len(others), self.rng.randint(0, 2)))]
        rows = []
        for i, person in enumerate(people):
            role = ParticipantRole.ORGANIZER if i == 0 and direction == Direction.INBOUND else (
                ParticipantRole.OPTIONAL if i and self.rng.random() < 0.3 else ParticipantRole.ATTENDEE)
            rows.append(InteractionParticipant(
                contact_id=person.id, role=role, attended=self.rng.random() > 0.08,
                feedback=self.rng.choice(PARTICIPANT_FEEDBACK) if self.rng.random() < 0.3 else "",
            ))
        return rows

    # ---- tasks -------------------------------------------------------------------------

    async def _tasks(self) -> None:
        tasks = [t for deal in self.deals if (t := self._deal_task(deal))]
        tasks += [t for plan in self.plans if (t := self._account_task(plan))]
        await self._insert(Task, tasks)

    def _deal_task(self, deal: _DealPlan) -> Task | None:
        rng, stage_key = self.rng, deal.keys[-1]
        fill = self._note_placeholders(deal.plan, deal.opportunity.contact_id, deal)
        if not deal.closed and rng.random() < 0.6:
            due = self.now + timedelta(days=rng.randint(-5, 14), hours=rng.randint(0, 8))
            return self._task(rng.choice(NEXT_STEPS[stage_key]).format(**fill), deal.plan, due, deal=deal,
                              created=max(deal.times[-1], self.now - timedelta(days=10)))
        if deal.closed and rng.random() < 0.3:
            last_open = deal.keys[-2] if len(deal.keys) > 1 else "discovery"
            due = deal.times[-1] - timedelta(days=rng.randint(1, 5))
            return self._task(rng.choice(NEXT_STEPS[last_open]).format(**fill), deal.plan, max(due, deal.times[0]),
                              deal=deal, created=deal.times[0], done=True)
        return None

    def _account_task(self, plan: _AccountPlan) -> Task | None:
        rng = self.rng
        if plan.account.status != AccountStatus.CUSTOMER or rng.random() > 0.25:
            return None
        title = rng.choice(ACCOUNT_TASKS).format(account=plan.account.name)
        if rng.random() < 0.5:
            due = self.now + timedelta(days=rng.randint(-3, 30))
            return self._task(title, plan, due, created=self.now - timedelta(days=rng.randint(1, 20)),
                              cancelled=rng.random() < 0.1)
        due = self._moment(self.history_start + timedelta(days=30), self.now - timedelta(days=2))
        return self._task(title, plan, due, created=due - timedelta(days=rng.randint(3, 20)), done=True)

    def _task(self, title: str, plan: _AccountPlan, due: datetime, created: datetime, deal: _DealPlan | None = None,
              done: bool = False, cancelled: bool = False) -> Task:
        completed = min(self.now, due + timedelta(hours=self.rng.randint(-48, 24))) if done else None
        status = TaskStatus.COMPLETED if done else TaskStatus.CANCELLED if cancelled else TaskStatus.OPEN
        return Task(
            title=title[:300], description=f"{plan.account.name}" + (f" – {deal.opportunity.name}" if deal else ""),
            due_date=due, priority=self.rng.choices(list(TaskPriority), weights=[15, 50, 28, 7])[0], status=status,
            assignee_id=plan.rep.id, opportunity_id=deal.opportunity.id if deal else None,
            account_id=plan.account.id, completed_at=max(completed, created) if completed else None,
            created_at=min(created, self.now),
        )

    # ---- finishing touches -------------------------------------------------------------

    async def _health_history(self) -> None:
        """Each account's own health as the worker would have stored it, computed by the same rule from
        the data as it stood: monthly over the last half year, then now (the account's stored score)."""
        snapshots = []
        for months_ago in range(HEALTH_HISTORY_MONTHS, -1, -1):
            at = self.now - timedelta(days=30 * months_ago)
            for plan in self.plans:
                account_id = plan.account.id
                inputs = await gather_inputs([account_id], at)
                # The account's last_activity_date is today's: then, the last interaction before `at`.
                last = await CustomerInteraction.filter(account_id=account_id, occurred_at__lte=at) \
                    .order_by("-occurred_at").first().values_list("occurred_at", flat=True)
                health = assess(dataclass_replace(inputs, last_activity_at=cast("datetime | None", last)))
                snapshots.append(AccountHealthSnapshot(
                    account_id=account_id, score=health.score, risk_level=health.risk_level.value,
                    factors=factors_json(health), computed_at=at))
                if months_ago == 0:
                    await Account.filter(id=account_id).update(health_score=health.score)
        await self._insert(AccountHealthSnapshot, snapshots)

    async def _finish(self) -> None:
        """Derived columns: last activity per account (plain SQL both databases accept), updated_at."""
        await self.conn.execute_query(
            "UPDATE accounts SET last_activity_date = (SELECT MAX(i.occurred_at) FROM customer_interactions i "
            "WHERE i.account_id = accounts.id)"
        )
        await self.conn.execute_query(LAST_ACTIVITY_SQL)
        # auto_now overwrote updated_at with the time of the seed; QuerySet.update leaves it alone,
        # so back-date it on the rows we added.
        for model in (User, Account, Contact, Contract, Product, Competitor, BattleCard, Opportunity):
            if model in self.first_new_id:
                source = F("stage_entered_at") if model is Opportunity else F("created_at")
                await model.filter(id__gte=self.first_new_id[model]).update(updated_at=source)
