"""The registry service: governance rules applied through the ports."""
