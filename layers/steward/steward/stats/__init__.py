"""Pure statistics, numpy only, importing nothing else of Steward: the drift statistics on
binned distributions (:mod:`.distributions`) and the model metrics (:mod:`.performance`)."""
