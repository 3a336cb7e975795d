"""Pure domain logic: no AWS imports allowed below this package."""
