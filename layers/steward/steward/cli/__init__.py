"""The ``steward`` command line."""
