"""GraphQL layer (Strawberry only): types, inputs, resolvers that call services, loaders, context."""
