"""The mark on an event the zip scoring function forwards to the image function."""

# The receiver never forwards again; locally, it runs inside its caller's turn.
FORWARDED_MARK = "stewardForwarded"
