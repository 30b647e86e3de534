"""Sign-in, sessions, user administration and API keys: thin resolvers over app.services.auth/users.

Login abuse answers a top-level error `extensions: {code: RATE_LIMITED, retryAfter: <seconds>}`
(HTTP 429), the same shape as every other rate limit of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Optional, cast

import strawberry
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    ValidationRule,
)

from app.api import types as t
from app.api.context import CtxInfo
from app.api.errors import input_data, parse_id, require_scope, run_mutation, top_level_error, user_errors
from app.domain.enums import Role
from app.domain.errors import ErrorCode, PermissionDenied, RateLimited, ValidationFailed
from app.services import auth, users

ID = strawberry.ID


@strawberry.type
class UserPayload:
    user: Optional[t.User] = None
    errors: list[t.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class LoginPayload:
    token: Optional[str] = strawberry.field(default=None, description="Access token: send as `Authorization: Bearer <token>`.")
    expires_at: Optional[datetime] = strawberry.field(default=None, description="When the access token expires.")
    refresh_token: Optional[str] = strawberry.field(
        default=None, description="Exchange it once (refreshToken) for the next token pair before or after expiry.")
    user: Optional[t.User] = None
    errors: list[t.UserError] = strawberry.field(default_factory=list)

    @classmethod
    def signed_in(cls, signed: auth.SignedIn) -> "LoginPayload":
        return cls(token=signed.token, expires_at=signed.expires_at, refresh_token=signed.refresh_token,
                   user=cast(t.User, signed.user))


@strawberry.type
class LogoutPayload:
    logged_out: bool
    errors: list[t.UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="An integration's key; the secret itself is shown only once, by createApiKey.")
class ApiKey(t.Node):
    name: str
    prefix: str = strawberry.field(description="The secret's first characters, to tell keys apart.")
    created_at: datetime
    last_used_at: Optional[datetime] = strawberry.field(description="Last request made with the key (to the minute).")
    revoked_at: Optional[datetime]
    # The row's service account (`self` is the ApiKey row: see app/api/types.py); keys are an admin's.
    user_id: strawberry.Private[int]

    @strawberry.field(description="The role the key acts with.")
    async def role(self, info: CtxInfo) -> Role:
        return (await info.context.loaders.user.load(self.user_id)).role

    @strawberry.field(description="The service account that owns what the integration creates.")
    async def service_account(self, info: CtxInfo) -> t.User:
        return cast(t.User, await info.context.loaders.user.load(self.user_id))


@strawberry.type
class ApiKeyPayload:
    api_key: Optional[ApiKey] = None
    errors: list[t.UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CreateApiKeyPayload:
    api_key: Optional[ApiKey] = None
    secret: Optional[str] = strawberry.field(default=None, description="Shown once: store it now. Send it as "
                                                                         "`Authorization: Bearer <secret>`.")
    errors: list[t.UserError] = strawberry.field(default_factory=list)


@strawberry.input
class CreateUserInput:
    email: str
    name: Optional[str] = None
    role: Role = Role.REP
    password: str = strawberry.field(description="Initial password (at least 8 characters).")
    manager_id: Optional[ID] = None
    timezone: Optional[str] = None


@strawberry.input
class UpdateUserInput:
    name: Optional[str] = strawberry.UNSET
    role: Optional[Role] = strawberry.UNSET
    manager_id: Optional[ID] = strawberry.field(default=strawberry.UNSET, description="null: no manager.")


@strawberry.input
class CreateApiKeyInput:
    name: str
    role: Role
    manager_id: Optional[ID] = strawberry.field(default=None, description="Whose team the service account is in.")


def _rate_limited(info: CtxInfo, exc: RateLimited) -> GraphQLError:
    if info.context.response is not None and hasattr(info.context.response, "status_code"):
        info.context.response.status_code = 429
    return GraphQLError(str(exc), extensions={"code": "RATE_LIMITED", "retryAfter": exc.retry_after})


def _client_address(info: CtxInfo) -> str | None:
    client = getattr(info.context.request, "client", None)
    return client.host if client else None


@strawberry.type
class SessionQuery:
    @strawberry.field(description="Admins: every API key, revoked ones included.")
    async def api_keys(self, info: CtxInfo) -> list[ApiKey]:
        scope = require_scope(info)
        try:
            return cast(list[ApiKey], await users.api_keys(scope))
        except PermissionDenied as exc:
            raise top_level_error(str(exc), "FORBIDDEN") from None


@strawberry.type
class SessionMutation:
    @strawberry.mutation(description="Exchange email and password for an access token and a refresh token. "
                                     "One login per request; throttled per account and per address.")
    async def login(self, info: CtxInfo, email: str, password: str) -> LoginPayload:
        try:
            signed = await auth.login(email, password, _client_address(info))
        except RateLimited as exc:
            raise _rate_limited(info, exc) from None
        if signed is None:
            return LoginPayload(errors=[t.UserError(field="password", message="unknown email or wrong password",
                                                    code=ErrorCode.INVALID)])
        return LoginPayload.signed_in(signed)

    @strawberry.mutation(description="Use a refresh token (once) for a new token pair. Using one twice ends its session.")
    async def refresh_token(self, refresh_token: str) -> LoginPayload:
        try:
            return LoginPayload.signed_in(await auth.refresh(refresh_token))
        except auth.RefreshRefused as exc:
            return LoginPayload(errors=[t.UserError(field="refreshToken", message=str(exc), code=ErrorCode.INVALID)])

    @strawberry.mutation(description="End this session (or, with everywhere, all of yours); its sockets close.")
    async def logout(self, info: CtxInfo, everywhere: bool = False) -> LogoutPayload:
        require_scope(info)
        credential = info.context.credential
        if credential is None or credential.is_api_key:
            return LogoutPayload(logged_out=False, errors=[t.UserError(
                field=None, message="an API key is ended with revokeApiKey", code=ErrorCode.FORBIDDEN)])
        await auth.logout(credential, everywhere)
        return LogoutPayload(logged_out=True)

    @strawberry.mutation(description="Change your own password; your other sessions end.")
    async def change_password(self, info: CtxInfo, current_password: str, new_password: str) -> UserPayload:
        require_scope(info)
        me, credential = info.context.user, info.context.credential
        assert me is not None and credential is not None  # a scope comes with both (app/api/context.py)
        try:
            user = await users.change_password(me, credential, current_password, new_password)
        except RateLimited as exc:
            raise _rate_limited(info, exc) from None
        except ValidationFailed as exc:
            return UserPayload(user=None, errors=user_errors(exc))
        return UserPayload(user=cast(t.User, user), errors=[])

    @strawberry.mutation(description="Admins: create a user with a role, a manager and an initial password.")
    async def create_user(self, info: CtxInfo, input: CreateUserInput) -> UserPayload:
        return await run_mutation(info, UserPayload, "user", lambda s: users.admin_create_user(s, input_data(input)))

    @strawberry.mutation(description="Admins: change a user's name, role or manager.")
    async def update_user(self, info: CtxInfo, id: ID, input: UpdateUserInput) -> UserPayload:
        return await run_mutation(info, UserPayload, "user",
                                  lambda s: users.update_user(s, parse_id(id, "id", "User"), input_data(input)))

    @strawberry.mutation(description="Admins: deactivate a user; their sessions end and their sockets close.")
    async def deactivate_user(self, info: CtxInfo, id: ID) -> UserPayload:
        return await run_mutation(info, UserPayload, "user", lambda s: users.deactivate_user(s, parse_id(id, "id", "User")))

    @strawberry.mutation(description="Admins: let a deactivated user log in again.")
    async def reactivate_user(self, info: CtxInfo, id: ID) -> UserPayload:
        return await run_mutation(info, UserPayload, "user", lambda s: users.reactivate_user(s, parse_id(id, "id", "User")))

    @strawberry.mutation(description="Admins: set a user's password; all their sessions end.")
    async def reset_user_password(self, info: CtxInfo, id: ID, new_password: str) -> UserPayload:
        return await run_mutation(info, UserPayload, "user",
                                  lambda s: users.reset_password(s, parse_id(id, "id", "User"), new_password))

    @strawberry.mutation(description="Admins: a key for an integration, acting as a new service account with the role.")
    async def create_api_key(self, info: CtxInfo, input: CreateApiKeyInput) -> CreateApiKeyPayload:
        async def create(scope) -> CreateApiKeyPayload:
            key, secret = await users.create_api_key(scope, input_data(input))
            return CreateApiKeyPayload(api_key=cast(ApiKey, key), secret=secret)

        return await run_mutation(info, lambda created, errors: created or CreateApiKeyPayload(errors=errors),
                                  "created", create)

    @strawberry.mutation(description="Admins: revoke an API key; requests and sockets using it stop at once.")
    async def revoke_api_key(self, info: CtxInfo, id: ID) -> ApiKeyPayload:
        return await run_mutation(info, ApiKeyPayload, "api_key", lambda s: users.revoke_api_key(s, parse_id(id, "id", "ApiKey")))



class OneLoginPerRequest(ValidationRule):
    """Refuses a mutation that calls `login` more than once (aliases, fragments), before execution:
    otherwise one request carries many password guesses past the per-request view of throttling."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_args) -> None:
        if node.operation != OperationType.MUTATION:
            return
        fragments = {f.name.value: f for f in self.context.document.definitions if isinstance(f, FragmentDefinitionNode)}
        if _count_login(node.selection_set, fragments, set()) > 1:
            self.report_error(GraphQLError("only one login per request", node,
                                           extensions={"code": "BAD_USER_INPUT"}))


def _count_login(selection_set, fragments: dict, seen: set[str]) -> int:
    count = 0
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            count += selection.name.value == "login"
        elif isinstance(selection, InlineFragmentNode):
            count += _count_login(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            seen.add(selection.name.value)
            fragment = fragments.get(selection.name.value)
            count += _count_login(fragment.selection_set, fragments, seen) if fragment else 0
    return count
