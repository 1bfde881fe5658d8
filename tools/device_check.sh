#!/usr/bin/env bash
# The GPU checks, in one run on a lent device machine (record the card and the numbers in docs/benchmarks.md):
#   adapt at 1024 (MTG + Affine, two random ViT-B CLIPs, batch 4; issue #10: <= 25 ms/step, 250 steps <= 10 s,
#   peak <= 12 GB), then render / e4e / projector at 1024.
# The device image has torch, numpy, pillow and safetensors but not open_clip and its small pure-Python needs.
# Once, here, before the run (the wheels are ignored files that travel with `carry`):
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: -d .whl open_clip_torch==3.3.0 ftfy==6.3.1 \
#       wcwidth==0.9.5 platformdirs==4.14.9
# then: run(command="bash tools/device_check.sh", carry=[".whl"], timeout_s=480). Smoke test on a CPU:
#   DEVICE=cpu MODEL=demo-faces-64 TASKS=adapt OUT=/tmp/dc bash tools/device_check.sh
set -uo pipefail
OUT=${OUT:-build/device-check}
DEVICE=${DEVICE:-cuda}
MODEL=${MODEL:-}
PY=${PY:-python3}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD"
if ls .whl/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        && export PYTHONPATH="/tmp/site:$PWD" || exit 1
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" | tee -a "$OUT/gpu.txt"
for tasks in ${TASKS:-adapt render,e4e,projector}; do
    name=${tasks//,/-}
    timeout 300 "$PY" -m engine.cli bench $MODEL --device "$DEVICE" --tasks "$tasks" -o "$OUT/bench-$name.json" 2>&1 \
        | tee "$OUT/bench-$name.log"
done
