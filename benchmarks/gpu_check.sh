#!/usr/bin/env bash
# One-shot CUDA check of the distributed trainer, for a machine with NVIDIA GPUs (~5-8 minutes):
#   1. the GPU tests (NCCL ranks, fp16 precision with GradScaler, 16-bit and PowerSGD hooks);
#   2. benchmarks/scaling.py on 1..N GPUs;
#   3. benchmarks/deep_memory.py (1207-layer CNN, checkpointing none vs sqrt) on CUDA.
# Run from anywhere:  bash benchmarks/gpu_check.sh
# Needs a Python with a CUDA build of torch and numpy ($PYTHON, else .venv/bin/python if its torch
# sees CUDA, else python3); pytest and scikit-learn are used when present. Nothing is installed.
# Figures are printed and written as JSON to $OUT (if set) or benchmarks/out/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
OUT_DIR="${OUT:-benchmarks/out}"
mkdir -p "$OUT_DIR"

has_cuda() { "$1" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; }
if [ -n "${PYTHON:-}" ]; then PY="$PYTHON"
elif [ -x .venv/bin/python ] && has_cuda .venv/bin/python; then PY=.venv/bin/python
else PY=python3
fi

echo "=== nvidia-smi"
nvidia-smi
echo "=== python: $PY"
"$PY" - <<'EOF'
import sys
import torch
print(f"python {sys.version.split()[0]}, torch {torch.__version__}, CUDA {torch.version.cuda}")
if not torch.cuda.is_available():
    sys.exit("torch does not see CUDA: set PYTHON to an interpreter with a CUDA build of torch")
print(f"{torch.cuda.device_count()} GPU(s): {torch.cuda.get_device_name(0)}; "
      f"NCCL {'.'.join(map(str, torch.cuda.nccl.version()))}")
EOF

echo "=== 1. GPU tests (NCCL)"
START=$SECONDS
if "$PY" -c 'import pytest' 2>/dev/null; then
  # The overrides drop pyproject's settings that need plugins or optuna (not needed here).
  timeout 300 "$PY" -m pytest tests/trainer/distributed/test_gpu.py tests/trainer/test_memory_meter.py \
    tests/trainer/test_train_costs.py -m gpu -q -p no:cacheprovider \
    -o addopts="-ra" -o filterwarnings="" -o timeout=0
else
  echo "pytest is not installed: running an NCCL smoke check instead of the test file"
  timeout 300 "$PY" - <<'EOF'
import dataclasses, sys
import torch
sys.path[:0] = ["tests/trainer", "tests/trainer/distributed"]
from ddp_helpers import BASE
from trainer_helpers import bias_free_mlp, cross_entropy, image_splits, residual_stack
from trainer import TrainRequest
from trainer.distributed import launch_trial

n = min(2, torch.cuda.device_count())
cuda = dataclasses.replace(BASE, device="cuda", nproc=n, batch_size=24)
for name, model, cfg in [
    ("nccl fp32", residual_stack, cuda),
    ("fp16 + GradScaler", residual_stack, dataclasses.replace(cuda, precision="fp16")),
    ("bf16 hook", bias_free_mlp, dataclasses.replace(cuda, comm_hook="bf16")),
    ("powersgd", bias_free_mlp, dataclasses.replace(cuda, comm_hook="powersgd")),
]:
    r, _ = launch_trial(TrainRequest(None, None, cfg, model, cross_entropy), image_splits())
    print(f"{name:<18} ranks={n} val_acc={r.val_accuracy:.3f} peak_mb={r.peak_memory_mb:.2f} "
          f"bytes/step={r.comm_bytes_per_step:.0f}")
EOF
fi
echo "(tests: $((SECONDS - START)) s)"

echo "=== 2. scaling (samples/s on 1..N GPUs)"
START=$SECONDS
timeout 200 "$PY" benchmarks/scaling.py --device cuda --epochs 3 --repeat 1 \
  --json "$OUT_DIR/scaling_cuda.json"
echo "(scaling: $((SECONDS - START)) s)"

echo "=== 3. deep_memory (1207 layers, checkpointing none vs sqrt)"
START=$SECONDS
# Width and batch big enough that the GPU, not the kernel launches, sets the pace.
timeout 200 "$PY" benchmarks/deep_memory.py --device cuda ${DEEP_ARGS:---sizes 16x256,64x256} \
  --json "$OUT_DIR/deep_memory_cuda.json"
echo "(deep_memory: $((SECONDS - START)) s)"

echo "=== figures in $OUT_DIR"
ls -l "$OUT_DIR"
