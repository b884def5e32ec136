"""The Starlette HTTP API: app factory, routes, errors, OpenAPI."""
