"""Drift: streaming evaluation over prediction logs, distributed runs, their reports."""
