#!/bin/sh
# The codebuild trainer backend's build (infra.constructs.trainers.CodeBuildTrainer): the
# staged run's input into SageMaker's layout, the requirements, the entry point under the
# SM_* variables without the build's credentials, a task heartbeat a minute, and the output
# as SageMaker leaves it (model.tar.gz, output.tar.gz; failure as text on a failed run).
set -u
ML="${STEWARD_ML_ROOT:-/opt/ml}"  # SageMaker's root; tests point it elsewhere
WORK="$(mktemp -d)"
mkdir -p "$ML/input" "$ML/model" "$ML/output/data" "$ML/code"
aws s3 cp --recursive --only-show-errors "$STEWARD_INPUT" "$ML/input"
python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" \
  "$ML/input/code/source.zip" "$ML/code"
if [ -n "$STEWARD_REQUIREMENTS" ]; then
  printf '%s\n' "$STEWARD_REQUIREMENTS" > "$WORK/requirements.txt"
  python3 -m pip install -q -r "$WORK/requirements.txt" > "$ML/output/pip.log" 2>&1 \
    || { printf 'installing the requirements failed: ' > "$WORK/failure"
         tail -c 1500 "$ML/output/pip.log" >> "$WORK/failure"; }
fi
( while sleep 60; do
    aws stepfunctions send-task-heartbeat --task-token "$STEWARD_TASK_TOKEN" > /dev/null 2>&1
  done ) &
BEAT=$!
export STEWARD_ML_ROOT="$ML" SM_MODEL_DIR="$ML/model" SM_INPUT_DIR="$ML/input"
export SM_INPUT_CONFIG_DIR="$ML/input/config" SM_OUTPUT_DIR="$ML/output"
export SM_OUTPUT_DATA_DIR="$ML/output/data" SM_CHANNELS="$STEWARD_CHANNELS"
SM_HPS="$(cat "$ML/input/config/hyperparameters.json")"
export SM_HPS
# Channel names are [a-z][a-z0-9_]* (RetrainPolicy.channels): safe as words and names.
for c in $(python3 -c "import json, os; print(*json.loads(os.environ['SM_CHANNELS']))"); do
  export "SM_CHANNEL_$(echo "$c" | tr 'a-z' 'A-Z')=$ML/input/data/$c"
done
if [ ! -s "$WORK/failure" ]; then
  cd "$ML/code" || exit 1
  env -u AWS_CONTAINER_CREDENTIALS_RELATIVE_URI -u STEWARD_TASK_TOKEN \
    timeout -s KILL "$STEWARD_TIMEOUT_S" sh -c "$STEWARD_ENTRY_POINT" \
    > "$ML/output/trainer.log" 2>&1
  STATUS=$?
  if [ "$STATUS" -eq 137 ]; then
    echo "the trainer overran its timeout of $STEWARD_TIMEOUT_S s" > "$WORK/failure"
  elif [ "$STATUS" -ne 0 ] && [ -s "$ML/output/failure" ]; then
    cp "$ML/output/failure" "$WORK/failure"
  elif [ "$STATUS" -ne 0 ]; then
    LAST="$(tail -n 1 "$ML/output/trainer.log" | cut -c1-300)"
    echo "exit status $STATUS, no output/failure ($LAST)" > "$WORK/failure"
  fi
fi
kill "$BEAT"
tar -czf "$WORK/output.tar.gz" -C "$ML/output" .
aws s3 cp --only-show-errors "$WORK/output.tar.gz" "${STEWARD_OUTPUT}output.tar.gz"
if [ -s "$WORK/failure" ]; then
  aws s3 cp --only-show-errors "$WORK/failure" "${STEWARD_OUTPUT}failure"
  exit 1
fi
tar -czf "$WORK/model.tar.gz" -C "$ML/model" .
aws s3 cp --only-show-errors "$WORK/model.tar.gz" "${STEWARD_OUTPUT}model.tar.gz"
