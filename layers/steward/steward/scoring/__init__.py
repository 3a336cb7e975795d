"""Scoring: validated input, routed to champion/challenger, every prediction handed to the
log sink. Kept lean: nothing on this path imports pandas or scipy."""
