"""Pure rules for who may sign in and for how long: password policy, login backoff, user
administration checks, and the reasons a live connection is closed (shown to clients)."""

from __future__ import annotations

from enum import Enum

from app.domain.enums import Role

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # argon2 hashes anything, but a megabyte password is only a CPU burner


class CloseReason(str, Enum):
    """Why a session's WebSockets are closed (close code 4403); the text is the close reason."""

    TOKEN_EXPIRED = "token expired"
    UNAUTHENTICATED = "unauthenticated"
    LOGGED_OUT = "logged out"
    SESSION_REVOKED = "session revoked"
    PASSWORD_CHANGED = "password changed"
    USER_DEACTIVATED = "user deactivated"
    PERMISSIONS_CHANGED = "permissions changed"
    API_KEY_REVOKED = "api key revoked"


def password_error(password: str) -> str | None:
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"must be at most {MAX_PASSWORD_LENGTH} characters"
    return None


def lockout_seconds(failures: int, allowed: int, base: float, cap: float) -> float:
    """After `allowed` failures in the window each further attempt waits twice as long as the last
    (base, 2×base, 4×base, …), up to `cap`. 0 while failures stay below `allowed`."""
    if failures < allowed:
        return 0.0
    doubling: int = 2 ** (failures - allowed)  # failures >= allowed here: a whole number
    return min(base * doubling, cap)


def manager_error(user_id: int | None, manager_id: int, manager_role: Role, manager_chain: list[int]) -> str | None:
    """May this user report to that manager? `manager_chain`: the manager's own managers, nearest first."""
    if manager_role == Role.REP:
        return "a rep cannot manage other users"
    if user_id is not None and (manager_id == user_id or user_id in manager_chain):
        return "a user cannot report to themselves, directly or through their reports"
    return None
