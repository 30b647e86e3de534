"""Request context: the authenticated user, their visibility scope and the request's loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info

from app.api.loaders import Loaders
from app.domain.errors import NotAuthenticated
from app.models import User
from app.queries.visibility import Scope, scope_for
from app.services.auth import Credential, authenticate_bearer, bearer_token


@dataclass
class Context:
    request: Any
    response: Any = None
    user: User | None = None
    scope: Scope | None = None
    # The credential the request was authenticated with (its session, or an API key).
    credential: Credential | None = None
    # Why authentication failed (NotAuthenticated, or its subclass TokenExpired), if it did.
    auth_failure: NotAuthenticated | None = None
    # graphql-transport-ws: the connection_init payload, e.g. {"authorization": "Bearer …"}.
    connection_params: dict | None = None
    # WebSocket: when connection_init began authenticating (revocations heard since then apply to it).
    authenticating_since: float = 0.0
    loaders: Loaders = field(default_factory=lambda: Loaders(None))

    @property
    def auth_error(self) -> str | None:
        return str(self.auth_failure) if self.auth_failure else None

    def require_scope(self) -> Scope:
        if self.scope is None:
            raise self.auth_failure or NotAuthenticated("authentication required: send Authorization: Bearer <token>")
        return self.scope


async def authenticate(ctx: Context, authorization: str | None) -> None:
    """`Authorization: Bearer <access token or API key>`."""
    if authorization:
        try:
            ctx.user, ctx.credential = await authenticate_bearer(bearer_token(authorization))
            ctx.scope = await scope_for(ctx.user)
        except NotAuthenticated as exc:
            ctx.auth_failure = exc
    ctx.loaders = Loaders(ctx.scope)


async def build_context(request: Any, response: Any, authorization: str | None) -> Context:
    ctx = Context(request=request, response=response)
    await authenticate(ctx, authorization)
    return ctx


CtxInfo = Info[Context, None]
