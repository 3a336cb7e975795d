"""The prediction and feedback logs' schema: the one place for their column names, the names a
feature cannot take as its column, and where a feature is stored.

A prediction log row holds the log's own columns (:data:`PREDICTION_COLUMNS`) and one column
per input feature. A feature whose name the log uses (``score``, ``version``, ``label``, the
hive partition keys, ...) or that starts with :data:`FEATURE_PREFIX` is stored under the
prefix (``score`` -> ``feature_score``, ``feature_x`` -> ``feature_feature_x``): the mapping
is one-to-one, so a feature never reads the log's own column or another feature's. Writer
and readers use :func:`column_of` and :func:`feature_of` and nothing else.

Pure (no pyarrow): the client, the scoring path and the workflow functions import it.
"""

from __future__ import annotations

REQUEST_ID = "request_id"
TS = "ts"
VERSION = "version"
VARIANT = "variant"
PREDICTION = "prediction"
SCORE = "score"
PROBABILITIES = "probabilities"  # multiclass: {class: probability} per row
LATENCY_MS = "latency_ms"
FLAGS = "flags"
LABEL = "label"

PREDICTION_COLUMNS = (
    REQUEST_ID,
    TS,
    VERSION,
    VARIANT,
    PREDICTION,
    SCORE,
    PROBABILITIES,
    LATENCY_MS,
    FLAGS,
)
FEEDBACK_COLUMNS = (REQUEST_ID, TS, LABEL)
# The hive partition keys (``predictions/model=<name>/date=.../hour=.../``): a reader that
# reads the folders as one dataset sees them as columns too.
PARTITION_KEYS = ("model", "date", "hour")
RESERVED = frozenset((*PREDICTION_COLUMNS, *FEEDBACK_COLUMNS, *PARTITION_KEYS))

FEATURE_PREFIX = "feature_"


def column_of(feature: str) -> str:
    """The log column that holds ``feature``'s values."""
    if feature in RESERVED or feature.startswith(FEATURE_PREFIX):
        return FEATURE_PREFIX + feature
    return feature


def feature_of(column: str) -> str | None:
    """The feature a log column holds (the inverse of :func:`column_of`), ``None`` for the
    log's own columns."""
    if column.startswith(FEATURE_PREFIX):
        return column[len(FEATURE_PREFIX) :]
    if column in RESERVED:
        return None
    return column
