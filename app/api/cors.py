"""Cross-origin access from browsers, from one setting (ALLOWED_ORIGINS) for HTTP and WebSocket.

HTTP: Starlette's CORSMiddleware answers preflights (OPTIONS) and adds the CORS headers for allowed
origins, with credentials and a preflight max-age. WebSocket: strawberry's handshake origin check
(`allowed_origins` of the view) gets the same list. Requests without an Origin (native clients,
curl, servers) and same-origin pages are unaffected by either.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from app.settings import Settings

# What a browser page may read of a response besides the CORS-safelisted headers.
EXPOSED_HEADERS = ["WWW-Authenticate", "Retry-After"]


def normalized_origins(settings: Settings) -> tuple[str, ...]:
    """`https://app.example.com/` and `https://app.example.com` name the same origin."""
    return tuple(origin.strip().rstrip("/") for origin in settings.allowed_origins if origin.strip())


def cors_middleware(settings: Settings) -> Middleware | None:
    origins = normalized_origins(settings)
    if not origins:
        return None
    return Middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["*"],  # any request header (Authorization, Idempotency-Key…): the origin is what is checked
        expose_headers=EXPOSED_HEADERS,
        allow_credentials=settings.cors_allow_credentials,
        max_age=settings.cors_max_age_seconds,
    )
