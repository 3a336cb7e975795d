"""Gradient boosting → ONNX, under Steward's trainer contract (SageMaker's layout)."""

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
from skl2onnx import to_onnx
from sklearn.ensemble import GradientBoostingClassifier

train = pq.read_table(os.environ["SM_CHANNEL_TRAIN"]).to_pandas()
valid = pq.read_table(os.environ["SM_CHANNEL_VALIDATION"]).to_pandas()
features = [c for c in train.columns if c != "label"]  # in the model's signature order
out = Path(os.environ["SM_OUTPUT_DIR"])
if train["label"].nunique() < 2:
    (out / "failure").write_text(f"the train channel holds one class ({len(train)} rows)")
    raise SystemExit(1)

hps = json.loads(os.environ["SM_HPS"])
x = train[features].to_numpy("float32")
model = GradientBoostingClassifier(
    n_estimators=int(hps.get("n_estimators", 60)), max_depth=int(hps.get("max_depth", 2)),
    random_state=0,
).fit(x, train["label"])
onx = to_onnx(model, x[:1], options={"zipmap": False})
Path(os.environ["SM_MODEL_DIR"], "model.onnx").write_bytes(onx.SerializeToString())
accuracy = model.score(valid[features].to_numpy("float32"), valid["label"])
(out / "metrics.json").write_text(json.dumps({"validation_accuracy": accuracy}))
