"""Request context: the authenticated user, their visibility scope and the request's loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info

from app.api.loaders import Loaders
from app.domain.errors import NotAuthenticated
from app.models import User
from app.queries.visibility import Scope, scope_for
from app.services.auth import user_from_token


@dataclass
class Context:
    request: Any
    response: Any = None
    user: User | None = None
    scope: Scope | None = None
    auth_error: str | None = None
    # graphql-transport-ws: the connection_init payload, e.g. {"authorization": "Bearer …"}.
    connection_params: dict | None = None
    loaders: Loaders = field(default_factory=lambda: Loaders(None))

    def require_scope(self) -> Scope:
        if self.scope is None:
            raise NotAuthenticated(self.auth_error or "authentication required: send Authorization: Bearer <token>")
        return self.scope


async def authenticate(ctx: Context, authorization: str | None) -> None:
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            ctx.auth_error = "malformed Authorization header: expected 'Bearer <token>'"
        else:
            try:
                ctx.user = await user_from_token(token.strip())
                ctx.scope = await scope_for(ctx.user)
            except NotAuthenticated as exc:
                ctx.auth_error = str(exc)
    ctx.loaders = Loaders(ctx.scope)


async def build_context(request: Any, response: Any, authorization: str | None) -> Context:
    ctx = Context(request=request, response=response)
    await authenticate(ctx, authorization)
    return ctx


CtxInfo = Info[Context, None]
