"""The REST API: one powertools resolver, routes per resource, errors mapped in one place."""
