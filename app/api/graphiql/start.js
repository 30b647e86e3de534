// The GraphiQL start page of Kitchen Pantry CRM: two tabs, "log in" and an authenticated query.
// Everything is served by the API itself (no CDN): see VERSIONS beside this file.
(function () {
  var config = JSON.parse(document.getElementById("crm-graphiql-config").textContent);
  var login = [
    "# Welcome to the Kitchen Pantry CRM API.",
    "#",
    "# 1. Run this mutation (the play button, or Ctrl-Enter): it logs in as the demo admin",
    "#    (created by `crm seed-demo`; the README lists the demo users of every role).",
    "# 2. Copy the `token` from the result.",
    "# 3. Open the second tab and put the token in its Headers (bottom panel):",
    '#      {"Authorization": "Bearer <token>"}',
    "#    Every request from that tab then runs as that user.",
    "",
    "mutation LogIn {",
    '  login(email: "' + config.email + '", password: "' + config.password + '") {',
    "    token",
    "    expiresAt",
    "    user { id name role }",
    "    errors { field message code }",
    "  }",
    "}",
    "",
  ].join("\n");
  var firstQuery = [
    "# Runs with the Authorization header below: paste the token from the login tab in place of <token>.",
    "",
    "query MyOpenDeals {",
    "  me { name role }",
    "  opportunities(first: 5) {",
    "    totalCount",
    "    edges { node { id name value stage account { name } } }",
    "    pageInfo { hasNextPage endCursor }",
    "  }",
    "}",
    "",
  ].join("\n");
  var fetcher = GraphiQL.createFetcher({ url: config.url });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: "headers",
      shouldPersistHeaders: true,
      defaultTabs: [
        { query: login, headers: "" },
        { query: firstQuery, headers: JSON.stringify({ Authorization: "Bearer <token>" }, null, 2) },
      ],
    })
  );
})();
