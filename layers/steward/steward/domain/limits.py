"""Limits that more than one room reads: the drift plan and the settings both size batches."""

# A child streams ~0.5-0.7 M rows/s per core (README, "Drift at scale"): 4 M rows stay
# well under a minute of evaluation plus reads, far from the function's 15-minute limit.
MAX_BATCH_ROWS = 4_000_000
MAX_BATCH_BYTES = 512 * 2**20
# Every child's result (an S3 key or a small inline partial) comes back in one Step
# Functions payload (256 KB): beyond this many batches, batches grow instead.
MAX_BATCHES = 1_000
