"""Drift: statistics on binned distributions, streaming evaluation over prediction logs."""
