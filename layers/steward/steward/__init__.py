"""Steward: serverless ModelOps for AWS."""

__version__ = "0.1.0"
