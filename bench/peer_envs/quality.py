"""One peer's verdicts on ``bench/drift_quality.py``'s replicates, run by that peer's own
virtualenv (``.venv-peers/<tool>``): ``python bench/peer_envs/quality.py '<spec json>'``.

The spec names the tool and the replicates (``[{"n", "case", "replicate"}]``); each is
regenerated here by :mod:`replicates` (as on Steward's side) and judged with the tool's
defaults. Evidently: ``DataDriftPreset`` (its own choice of test per column and its own
thresholds; a column drifts when its "Value Drift" test fails). NannyML:
``UnivariateDriftCalculator`` with its default methods (Jensen-Shannon) and thresholds
(three standard deviations of the metric over the reference's chunks), chunks of the
window's size, so the window is one chunk and the reference ten (two at a million rows).
Last stdout line: JSON, one result per replicate (flagged columns, checksum, seconds); with
``"stream": path`` in the spec, each result is also appended to that file as it comes.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's telemetry
os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")  # NannyML's usage logging

import replicates  # noqa: E402  (this directory: the script's own)

COLUMNS = [*replicates.NUMERIC, *replicates.CATEGORICAL]


def evidently(reference: Any, current: Any, n: int) -> list[str]:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=replicates.NUMERIC, categorical_columns=replicates.CATEGORICAL
    )
    ref = Dataset.from_pandas(reference, data_definition=definition)
    cur = Dataset.from_pandas(current, data_definition=definition)
    result = Report([DataDriftPreset()], include_tests=True).run(cur, ref).dict()
    prefix = "Value Drift for column "
    return sorted(
        t["name"].removeprefix(prefix)
        for t in result["tests"]
        if t["name"].startswith(prefix) and t["status"] == "FAIL"
    )


def nannyml(reference: Any, current: Any, n: int) -> list[str]:
    import nannyml as nml

    calculator = nml.UnivariateDriftCalculator(
        column_names=COLUMNS, treat_as_categorical=replicates.CATEGORICAL, chunk_size=n
    )
    calculator.fit(reference)
    frame = calculator.calculate(current).filter(period="analysis").to_df()
    return sorted(
        c for c in COLUMNS if bool(frame[(c, "jensen_shannon", "alert")].fillna(False).any())
    )


TOOLS = {"evidently": evidently, "nannyml": nannyml}


def main(spec: dict[str, Any]) -> list[dict[str, Any]]:
    import warnings

    import pandas as pd

    warnings.simplefilter("ignore")
    __import__(spec["tool"])
    judge = TOOLS[spec["tool"]]
    out = []
    stream = open(spec["stream"], "a") if spec.get("stream") else None  # noqa: SIM115
    for job in spec["jobs"]:
        reference, window = replicates.replicate(job["n"], job["case"], job["replicate"])
        started = time.process_time()
        flagged = judge(pd.DataFrame(reference), pd.DataFrame(window), job["n"])
        out.append(
            {
                **job,
                "flagged": flagged,
                "checksum": replicates.checksum(reference, window),
                "cpu_seconds": time.process_time() - started,
            }
        )
        if stream:  # one line per replicate as it is judged: a long run can be read midway
            stream.write(json.dumps(out[-1]) + "\n")
            stream.flush()
    return out


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
