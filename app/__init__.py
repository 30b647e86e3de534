"""Kitchen Pantry CRM: GraphQL-first sales pipeline for food-service suppliers."""
