"""Pure rules of app.domain.sessions: password policy, login backoff, who may manage whom."""

from app.domain.enums import Role
from app.domain.sessions import lockout_seconds, manager_error, password_error


def test_password_policy():
    assert password_error("short") and password_error("x" * 2000)
    assert password_error("long-enough") is None


def test_lockout_doubles_from_the_allowed_failure_up_to_the_cap():
    waits = [lockout_seconds(n, allowed=5, base=30, cap=900) for n in range(3, 12)]
    assert waits == [0, 0, 30, 60, 120, 240, 480, 900, 900]


def test_managers_cannot_be_reps_or_the_users_own_reports():
    assert manager_error(7, 3, Role.REP, []) == "a rep cannot manage other users"
    assert "themselves" in (manager_error(7, 7, Role.MANAGER, []) or "")
    assert "themselves" in (manager_error(7, 3, Role.MANAGER, [5, 7, 1]) or "")  # 3 reports (indirectly) to 7
    assert manager_error(7, 3, Role.MANAGER, [1]) is None
    assert manager_error(None, 3, Role.ADMIN, []) is None
