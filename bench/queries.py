"""Every GraphQL document the benchmark sends, in one place (the fast-path equivalence test imports them)."""

from graphql import parse, print_ast

# 1. The opportunities list: a page with account, products, activities and assigned user.
OPPORTUNITIES_PAGE = (
    "query($first:Int,$after:String){opportunities(first:$first,after:$after){totalCount "
    "pageInfo{hasNextPage endCursor} edges{cursor node{id name value probability stage expectedCloseDate "
    "account{id name industry} assignedTo{id name email} products{quantity unitPrice totalPrice product{sku name}} "
    "activities{type subject completedAt}}}}}"
)

# 1b. The same page without totalCount (a mobile list that scrolls on cursors needs no total).
OPPORTUNITIES_PAGE_NO_COUNT = OPPORTUNITIES_PAGE.replace("{totalCount ", "{", 1)

# 2. One opportunity by id with everything nested.
OPPORTUNITY_DETAIL = (
    "query($id:ID!){opportunity(id:$id){id name value budget probability probabilityOverridden stage "
    "expectedCloseDate actualCloseDate source nextStep description forecastCategory version stageEnteredAt "
    "daysInStage isStale createdAt updatedAt "
    "pipelineStage{id key name order probability} pipeline{id name} "
    "account{id name industry size tier status assignedTo{id name}} contact{id name email} "
    "assignedTo{id name email role} "
    "products{id quantity unitPrice discount totalPrice product{id sku name category unit}} "
    "activities{id type subject outcome scheduledAt completedAt createdBy{id name}} "
    "documents{id name type} "
    "stageHistory{id at source amountBefore amountAfter probabilityBefore probabilityAfter "
    "fromStage{key} toStage{key} by{id name}}}}"
)

# 1c/2b. The same list page and detail as Apollo Client sends them: named operations, the rows in
# fragments, `__typename` in every selection set (Apollo adds it for its cache), printed the way its
# `print` prints (graphql-js layout, as graphql-core's print_ast). Same data plus the type names.
OPPORTUNITIES_PAGE_APOLLO = print_ast(parse(
    "query OpportunitiesPage($first:Int,$after:String){opportunities(first:$first,after:$after){totalCount "
    "pageInfo{hasNextPage endCursor __typename} edges{cursor node{...OpportunityRow __typename} __typename} "
    "__typename}} "
    "fragment OpportunityRow on Opportunity{id name value probability stage expectedCloseDate "
    "account{id name industry __typename} assignedTo{...UserChip __typename} "
    "products{quantity unitPrice totalPrice product{sku name __typename} __typename} "
    "activities{type subject completedAt __typename} __typename} "
    "fragment UserChip on User{id name email __typename}"
))

OPPORTUNITY_DETAIL_APOLLO = print_ast(parse(
    "query OpportunityDetail($id:ID!){opportunity(id:$id){...OpportunityDetailFields __typename}} "
    "fragment OpportunityDetailFields on Opportunity{id name value budget probability probabilityOverridden stage "
    "expectedCloseDate actualCloseDate source nextStep description forecastCategory version stageEnteredAt "
    "daysInStage isStale createdAt updatedAt "
    "pipelineStage{id key name order probability __typename} pipeline{id name __typename} "
    "account{id name industry size tier status assignedTo{...UserRef __typename} __typename} "
    "contact{id name email __typename} "
    "assignedTo{...UserRef email role __typename} "
    "products{id quantity unitPrice discount totalPrice product{id sku name category unit __typename} __typename} "
    "activities{id type subject outcome scheduledAt completedAt createdBy{...UserRef __typename} __typename} "
    "documents{id name type __typename} "
    "stageHistory{id at source amountBefore amountAfter probabilityBefore probabilityAfter "
    "fromStage{key __typename} toStage{key __typename} by{...UserRef __typename} __typename} __typename} "
    "fragment UserRef on User{id name __typename}"
))

# 3. A stage move (its stage_entered automation runs in the worker).
ADVANCE_OPPORTUNITY = (
    "mutation($id:ID!,$stage:String!){advanceOpportunity(input:{id:$id,stage:$stage}){"
    "opportunity{id stage version} errors{field message code} unmetRequirements{stage kind}}}"
)

# 4. An interaction with a note that gets a sentiment score.
RECORD_INTERACTION = (
    "mutation($input:RecordInteractionInput!){recordInteraction(input:$input){"
    "interaction{id sentiment sentimentLabel} errors{field message code}}}"
)

# 5. Pipeline analytics.
PIPELINE_REPORT = (
    "query($timeframe:String!){pipelineReport(timeframe:$timeframe){timeframe totalOpportunities totalValue "
    "weightedValue averageDealSize winRate wonCount lostCount stageDistribution{stage count value} "
    "conversionRates{fromStage toStage entered advanced rate}}}"
)
SALES_FORECAST = (
    "query($period:String!){salesForecast(period:$period){period totalForecast bestCase worstCase confidence "
    "byRep{userId weighted openDeals} methodology}}"
)

# 6. Subscription: opportunity events, as a dashboard would watch them.
OPPORTUNITY_EVENTS = (
    "subscription($after:String){opportunityEvents(after:$after){cursor kind opportunityId fromStage toStage}}"
)

# 7. Search: the hits with their records, as a search box would show them.
SEARCH = (
    "query($query:String!,$types:[SearchType!],$first:Int){search(query:$query,types:$types,first:$first){"
    "score matchedField node{__typename id ...on Account{name} ...on Contact{name email phone} "
    "...on Opportunity{name stage} ...on Product{name sku}}}}"
)
# What people type into it, each naming a record that exists at every size (bench/datagen.py's names):
# a typo, a prefix, a phone fragment, an exact name.
SEARCH_TERMS = {
    "typo": "harbr grill 20",         # account 20 is "Harbor Grill #20"
    "prefix": "steakh",               # one account in ten is a Steakhouse
    "phone fragment": "555-4880",     # contact 1's phone
    "name": "Catering Co #14",        # account 14
}

LOGIN = "mutation($email:String!,$password:String!){login(email:$email,password:$password){token errors{code}}}"

ALL = {
    "opportunities_page": OPPORTUNITIES_PAGE,
    "opportunities_page_no_count": OPPORTUNITIES_PAGE_NO_COUNT,
    "opportunity_detail": OPPORTUNITY_DETAIL,
    "opportunities_page_apollo": OPPORTUNITIES_PAGE_APOLLO,
    "opportunity_detail_apollo": OPPORTUNITY_DETAIL_APOLLO,
    "advance_opportunity": ADVANCE_OPPORTUNITY,
    "record_interaction": RECORD_INTERACTION,
    "pipeline_report": PIPELINE_REPORT,
    "sales_forecast": SALES_FORECAST,
    "opportunity_events": OPPORTUNITY_EVENTS,
    "search": SEARCH,
}
