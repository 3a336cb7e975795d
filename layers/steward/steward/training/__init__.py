"""Retraining with the team's own code: the trainer contract and its backends."""
