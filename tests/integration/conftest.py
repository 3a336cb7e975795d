"""The moto stack fixtures live in ``tests/moto_stack.py`` (shared with the reliability tier)."""

from tests.moto_stack import Stack

__all__ = ["Stack"]
