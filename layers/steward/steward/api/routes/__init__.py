"""Routers, one module per resource of the REST contract."""
