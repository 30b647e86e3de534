"""Competitors, battlecards, the competitors on an opportunity, and its competitive analysis.

Managers and admins maintain competitor profiles and battlecards; anyone reads them, and anyone
may link a competitor to an opportunity they can see. An opportunity's battlecards are those of
its competitors: linking a competitor attaches its battlecards, unlinking detaches them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from decimal import Decimal, InvalidOperation
from urllib.parse import urlparse

from tortoise.expressions import Q

from app.domain import competition as rules
from app.domain.enums import Pricing, ProductCategory, Role
from app.domain.errors import ErrorCode, PermissionDenied, ValidationFailed
from app.domain.events import CompetitorsChanged
from app.domain.timeframes import parse_timeframe
from app.models import BattleCard, Competitor, Opportunity, PipelineStage
from app.queries import competition as read
from app.queries.visibility import Scope
from app.services.changelog import recorded_change, touch_opportunity
from app.services.lost_reasons import ensure_default_lost_reasons
from app.services.common import Checks, assign, get_visible, strip_text
from app.services.opportunities import visible_opportunity

COMPETITOR_FIELDS = {
    "name", "website", "description", "strengths", "weaknesses", "pricing", "market_share", "incumbent_categories",
}
BATTLECARD_FIELDS = {"competitor_id", "title", "summary", "objection_handling", "proof_points"}
TEXT_LIMITS = {"name": 200, "website": 300, "title": 200}
SHARE_PLACES = Decimal("0.0001")
EVERYONE = Q()  # competitors and battlecards are visible to every role


def _require_editor(scope: Scope) -> None:
    if scope.role not in (Role.ADMIN, Role.MANAGER):
        raise PermissionDenied("only managers and admins maintain competitor profiles and battlecards")


def _check_lengths(checks: Checks, data: dict) -> None:
    for name, limit in TEXT_LIMITS.items():
        if isinstance(data.get(name), str) and len(data[name]) > limit:
            checks.add(name, f"must be at most {limit} characters", ErrorCode.OUT_OF_RANGE)


def _text_list(checks: Checks, data: dict, name: str) -> None:
    """A list of non-blank strings, stripped; null means an empty list."""
    if name not in data:
        return
    items = data[name] or []
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
        checks.add(name, "must be a list of texts")
        return
    blank = [n for n, item in enumerate(items, 1) if not item.strip()]
    if blank:
        checks.add(name, f"item {', '.join(map(str, blank))} must not be blank", ErrorCode.REQUIRED)
    data[name] = [item.strip() for item in items]


def _choice(checks: Checks, data: dict, name: str, enum: type[Enum], *, required: bool) -> None:
    if name not in data:
        return
    if data[name] is None:
        if required:
            checks.add(name, "is required", ErrorCode.REQUIRED)
        return
    try:
        data[name] = enum(getattr(data[name], "value", data[name]))
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        checks.add(name, f"unknown value {data[name]!r}: use one of {allowed}")


# Competitors --------------------------------------------------------------------------


def _check_market_share(checks: Checks, data: dict) -> None:
    if "market_share" not in data:
        return
    share = data["market_share"]
    if share is None:
        checks.add("market_share", "is required", ErrorCode.REQUIRED)
        return
    try:
        share = Decimal(str(share))
        valid = share.is_finite() and Decimal(0) <= share <= Decimal(1)
    except InvalidOperation:
        valid = False
    if not valid:
        checks.add("market_share", "must be a fraction between 0 and 1 (e.g. 0.25 for 25%)", ErrorCode.OUT_OF_RANGE)
    elif share.quantize(SHARE_PLACES) != share:
        checks.add("market_share", "must have at most 4 decimal places", ErrorCode.OUT_OF_RANGE)
    else:
        data["market_share"] = share.quantize(SHARE_PLACES)


def _check_categories(checks: Checks, data: dict) -> None:
    if "incumbent_categories" not in data:
        return
    values: list[str] = []
    for item in data["incumbent_categories"] or []:
        try:
            value = ProductCategory(getattr(item, "value", item)).value
        except ValueError:
            checks.add("incumbent_categories", f"unknown product category {item!r}")
            continue
        if value not in values:
            values.append(value)
    data["incumbent_categories"] = values


async def _save_competitor(competitor: Competitor, data: dict, *, creating: bool) -> Competitor:
    strip_text(data, "name", "website", "description")
    for name in ("website", "description"):
        if name in data and data[name] is None:
            data[name] = ""
    checks = Checks()
    checks.required_text(data, "name", required=creating)
    _check_lengths(checks, data)
    _choice(checks, data, "pricing", Pricing, required=True)
    _check_market_share(checks, data)
    _text_list(checks, data, "strengths")
    _text_list(checks, data, "weaknesses")
    _check_categories(checks, data)
    website = data.get("website")
    if website and (urlparse(website).scheme not in ("http", "https") or not urlparse(website).netloc):
        checks.add("website", "must be an http(s) URL")
    if data.get("name"):
        clash = Competitor.filter(name__iexact=data["name"])
        if competitor.id is not None:
            clash = clash.exclude(id=competitor.id)
        if await clash.exists():
            checks.add("name", f"a competitor named {data['name']!r} exists", ErrorCode.DUPLICATE)
    checks.raise_if_any()
    assign(competitor, data, COMPETITOR_FIELDS)
    await competitor.save()
    return competitor


async def _competitor(competitor_id: int | None, field: str = "id") -> Competitor:
    return await get_visible(Competitor, competitor_id, EVERYONE, field, "competitor")


async def create_competitor(scope: Scope, data: dict) -> Competitor:
    _require_editor(scope)
    return await _save_competitor(Competitor(), data, creating=True)


async def update_competitor(scope: Scope, competitor_id: int, data: dict) -> Competitor:
    _require_editor(scope)
    return await _save_competitor(await _competitor(competitor_id), data, creating=False)


async def delete_competitor(scope: Scope, competitor_id: int) -> int:
    """Refused while the competitor is on opportunities: the win/loss history depends on the links."""
    _require_editor(scope)
    competitor = await _competitor(competitor_id)
    linked = await Opportunity.filter(competitors__id=competitor.id).count()
    if linked:
        raise ValidationFailed.single(
            "id", f"the competitor is on {linked} opportunities; remove it from them first", ErrorCode.IN_USE
        )
    await competitor.delete()  # its battlecards go with it
    return competitor_id


# Battlecards --------------------------------------------------------------------------


def _check_objections(checks: Checks, data: dict) -> None:
    """Objection handling is a list of {objection, response} pairs, both non-blank."""
    if "objection_handling" not in data:
        return
    pairs = []
    for n, item in enumerate(data["objection_handling"] or [], 1):
        if not isinstance(item, dict):
            checks.add("objection_handling", f"item {n} must be an objection and a response")
            continue
        objection = str(item.get("objection") or "").strip()
        response = str(item.get("response") or "").strip()
        if not objection or not response:
            checks.add("objection_handling", f"item {n} needs both an objection and a response", ErrorCode.REQUIRED)
        pairs.append({"objection": objection, "response": response})
    data["objection_handling"] = pairs


async def _save_battlecard(card: BattleCard, data: dict, *, creating: bool) -> BattleCard:
    strip_text(data, "title", "summary")
    if "summary" in data and data["summary"] is None:
        data["summary"] = ""
    checks = Checks()
    checks.required_text(data, "title", required=creating)
    _check_lengths(checks, data)
    _check_objections(checks, data)
    _text_list(checks, data, "proof_points")
    if (creating or "competitor_id" in data) and (
            data.get("competitor_id") is None or not await Competitor.exists(id=data["competitor_id"])):
        checks.add("competitor_id", "competitor not found", ErrorCode.NOT_FOUND)
    checks.raise_if_any()
    assign(card, data, BATTLECARD_FIELDS)
    await card.save()
    return card


async def _battlecard(card_id: int) -> BattleCard:
    return await get_visible(BattleCard, card_id, EVERYONE, "id", "battlecard")


async def create_battlecard(scope: Scope, data: dict) -> BattleCard:
    _require_editor(scope)
    return await _save_battlecard(BattleCard(), data, creating=True)


async def update_battlecard(scope: Scope, card_id: int, data: dict) -> BattleCard:
    _require_editor(scope)
    return await _save_battlecard(await _battlecard(card_id), data, creating=False)


async def delete_battlecard(scope: Scope, card_id: int) -> int:
    _require_editor(scope)
    await (await _battlecard(card_id)).delete()
    return card_id


# Competitors on an opportunity ---------------------------------------------------------


async def _link_parts(scope: Scope, opportunity_id: int | None, competitor_id: int | None):
    opportunity = await visible_opportunity(scope, opportunity_id)
    competitor = await _competitor(competitor_id, "competitor_id")
    linked = await opportunity.competitors.filter(id=competitor.id).exists()
    return opportunity, competitor, linked


async def add_opportunity_competitor(scope: Scope, opportunity_id: int, competitor_id: int) -> Opportunity:
    """Link a competitor; its battlecards become the opportunity's (see competitive_analysis)."""
    opportunity, competitor, linked = await _link_parts(scope, opportunity_id, competitor_id)
    if linked:
        raise ValidationFailed.single(
            "competitor_id", f"{competitor.name} is already on this opportunity", ErrorCode.DUPLICATE
        )
    async with recorded_change() as outbox:
        await opportunity.competitors.add(competitor)
        await touch_opportunity(opportunity)
        await outbox.record(CompetitorsChanged(added=competitor.id), opportunity=opportunity, actor_id=scope.user_id)
    return opportunity


async def remove_opportunity_competitor(scope: Scope, opportunity_id: int, competitor_id: int) -> Opportunity:
    opportunity, competitor, linked = await _link_parts(scope, opportunity_id, competitor_id)
    if not linked:
        raise ValidationFailed.single(
            "competitor_id", f"{competitor.name} is not on this opportunity", ErrorCode.NOT_FOUND
        )
    async with recorded_change() as outbox:
        await opportunity.competitors.remove(competitor)
        await touch_opportunity(opportunity)
        await outbox.record(CompetitorsChanged(removed=competitor.id), opportunity=opportunity,
                            actor_id=scope.user_id)
    return opportunity


# Analysis and reports ------------------------------------------------------------------


@dataclass(frozen=True)
class CompetitorAnalysis:
    competitor: Competitor
    assessment: rules.CompetitorAssessment
    battlecards: list[BattleCard]


@dataclass(frozen=True)
class CompetitiveAnalysis:
    opportunity: Opportunity
    competitors: list[CompetitorAnalysis]
    recommendations: list[str]
    win_probability: int


def competitor_profile(c: Competitor) -> rules.CompetitorProfile:
    return rules.CompetitorProfile(
        name=c.name, pricing=Pricing(c.pricing), market_share=Decimal(c.market_share),
        strengths=tuple(c.strengths or ()), weaknesses=tuple(c.weaknesses or ()),
        incumbent_categories=tuple(c.incumbent_categories or ()),
    )


async def competitive_analysis(scope: Scope, opportunity_id: int) -> CompetitiveAnalysis:
    """Threat, positioning and battlecards per competitor, recommendations and win probability.

    Our record against each competitor counts every closed opportunity it was on, company-wide:
    it describes the competitor, like its market share, and is shown only as totals."""
    opportunity = await visible_opportunity(scope, opportunity_id, "opportunity_id")
    stage = await PipelineStage.get(id=opportunity.stage_id)
    competitors = await opportunity.competitors.all().order_by("name", "id")
    ids = [c.id for c in competitors]
    records = await read.track_records(ids)
    cards: dict[int, list[BattleCard]] = {}
    for card in await BattleCard.filter(competitor_id__in=ids).order_by("id"):
        cards.setdefault(card.competitor_id, []).append(card)
    deal = rules.DealContext(
        stage_name=stage.name, stage_kind=stage.kind, stage_probability=stage.probability,
        probability=opportunity.probability, value=opportunity.value,
        product_categories=await read.deal_product_categories(opportunity.id) if competitors else frozenset(),
        has_lost_reason=bool((opportunity.lost_reason or "").strip()),
    )
    analysis = rules.analyse(deal, [
        rules.CompetitorInput(competitor_profile(c), rules.TrackRecord(*records.get(c.id, (0, 0))), bool(cards.get(c.id)))
        for c in competitors
    ])
    return CompetitiveAnalysis(
        opportunity=opportunity,
        competitors=[
            CompetitorAnalysis(c, a, cards.get(c.id, [])) for c, a in zip(competitors, analysis.competitors, strict=True)
        ],
        recommendations=list(analysis.recommendations),
        win_probability=analysis.win_probability,
    )


async def competitor_win_loss(scope: Scope, timeframe: str, f: read.WinLossFilter = read.WinLossFilter()):
    """Win/loss per competitor on the opportunities the caller can see (definitions in app.queries.competition)."""
    frame = parse_timeframe(timeframe)
    await ensure_default_lost_reasons()  # the top lost reasons are named by the picklist
    return await read.win_loss(scope, frame, f)
