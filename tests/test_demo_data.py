"""`crm seed-demo`: believable data in every stage, consistent history, and only into an empty database."""

from app.domain.enums import StageKind
from app.models import Account, CustomerInteraction, LostReason, Opportunity, PipelineStage, StageTransition, User
from app.services.auth import authenticate
from app.seed.demo_data import seed_demo


async def test_seed_fills_an_empty_database_once():
    summary = await seed_demo(seed=7)
    assert summary is not None
    assert await authenticate(summary.login_email, summary.login_password) is not None
    assert 250 <= await Account.all().count() <= 400
    assert await Opportunity.all().count() >= 500
    keys_in_use = set(await Opportunity.all().values_list("stage__key", flat=True))
    assert keys_in_use == set(await PipelineStage.all().values_list("key", flat=True))
    # every opportunity's history ends at its current stage, and closed deals are dated
    for opp in await Opportunity.all().limit(50):
        last = await StageTransition.filter(opportunity_id=opp.id).order_by("-at", "-id").first()
        assert last is not None and last.to_stage_id == opp.stage_id
    lost = await Opportunity.filter(stage__kind=StageKind.LOST).values_list("lost_reason_key", "lost_reason",
                                                                            "actual_close_date")
    picklist = set(await LostReason.filter(is_active=True).values_list("key", flat=True))
    assert lost and all(key in picklist and detail and closed for key, detail, closed in lost)
    scored = await CustomerInteraction.filter(sentiment__isnull=False).count()
    assert scored == await CustomerInteraction.all().count() > 1000
    users = await User.all().count()
    assert await seed_demo(seed=7) is None  # never into a database that has data
    assert await User.all().count() == users
