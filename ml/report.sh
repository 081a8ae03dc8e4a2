#!/bin/bash
# Re-run every evaluation and benchmark figure quoted in ml/MODEL.md; JSON lands in runs/report/.
#   bash ml/report.sh        (from the repository root; ~2.5 minutes on 2 CPU cores)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p runs/report
PY=${PYTHON:-.venv/bin/python}
E="$PY -m ml.evaluate --checkpoint ml/weights/emotion.pt --json --threads 1"
$E --split private --confusion runs/report/confusion_private.png > runs/report/private.json
$E --split private --tta > runs/report/private_tta.json
$E --split public > runs/report/public.json
$E --split public --tta > runs/report/public_tta.json
$E --split private --fp32 > runs/report/private_fp32.json
$E --split private --int8 > runs/report/private_int8.json
$E --split public --int8 > runs/report/public_int8.json
$E --images "${FER2013_SAMPLE_DIR:-../shared/data/fer2013/sample}" > runs/report/sample.json
$PY -m ml.benchmark --json > runs/report/benchmark.json
$PY -m ml.benchmark --json --threads 1 > runs/report/benchmark_1thread.json
ML_INT8=on $PY -m ml.benchmark --json --only classifier > runs/report/benchmark_int8.json
echo "wrote runs/report/*.json"
