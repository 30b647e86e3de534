"""GraphiQL served offline: its assets ship in app/api/graphiql/ (vendored from npm, see VERSIONS) and
are served by the API itself, so the IDE works without network access. The start page pre-fills a
login for the demo admin and an Authorization header template (graphiql/start.js)."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

ASSETS = Path(__file__).with_name("graphiql")
PREFIX = "/graphiql"

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Kitchen Pantry CRM · GraphiQL</title>
  <link rel="stylesheet" href="{prefix}/graphiql.min.css">
  <style>body {{ margin: 0; }} #graphiql {{ height: 100vh; }}</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script type="application/json" id="crm-graphiql-config">{config}</script>
  <script src="{prefix}/react.production.min.js"></script>
  <script src="{prefix}/react-dom.production.min.js"></script>
  <script src="{prefix}/graphiql.min.js"></script>
  <script src="{prefix}/start.js"></script>
</body>
</html>
"""


class GraphiQLPage:
    def __init__(self, graphql_path: str, login_email: str, login_password: str) -> None:
        config = json.dumps({"url": graphql_path, "email": login_email, "password": login_password})
        # Inside <script type="application/json">: only "</" could end it early.
        self.html = PAGE.format(prefix=PREFIX, config=config.replace("</", "<\\/"))

    @staticmethod
    def wants_page(request: Request) -> bool:
        """A browser opening /graphql: GET, HTML accepted, no GraphQL parameters."""
        return (request.method == "GET" and "text/html" in request.headers.get("accept", "")
                and "query" not in request.query_params and "extensions" not in request.query_params)

    def page(self, _: Request) -> HTMLResponse:
        return HTMLResponse(self.html)


def assets_route() -> Mount:
    return Mount(PREFIX, StaticFiles(directory=ASSETS), name="graphiql")
