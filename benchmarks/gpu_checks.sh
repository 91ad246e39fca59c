#!/usr/bin/env bash
# The deep-learning benchmarks on a GPU machine (never in CI), run side by side in one call:
#   - the MRI U-Net benchmark on the GPU, at a larger size (32 channels, 80 training volumes, batch 16);
#   - the same MRI benchmark on the CPU, pinned to 2 cores (the size of the project's machines);
#   - the GPT benchmark on the GPU.
# Each job gets its own CPU cores (taskset), so they do not slow each other down on the CPU; the two
# GPU jobs share the GPU. Results land in OUT (logs, results.json files, MRI panels) and in
# OUT/results.tar.gz.
# Usage: bash benchmarks/gpu_checks.sh OUT [full|smoke]   (python3 must have torch and the mri/gpt extras)
set -uo pipefail
OUT=${1:?usage: gpu_checks.sh OUT [full|smoke]}
SCALE=${2:-full}
GPU_DEVICE=${GPU_DEVICE:-cuda}
WORK=$(mktemp -d)
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
pin() { if command -v taskset >/dev/null && [ "$(nproc)" -ge 16 ]; then taskset -c "$1" "${@:2}"; else "${@:2}"; fi; }
if [ "$SCALE" = smoke ]; then
  mri_gpu=(--budget 15 --train-volumes 4 --test-volumes 1 --slices 2 --cs-iterations 10 --chans 32 --batch-size 16)
  mri_cpu=(--budget 10 --train-volumes 4 --test-volumes 1 --slices 2 --cs-iterations 10)
  gpt=(--time-limit 15 --eval-chars 20000 --detect-texts 10)
else
  mri_gpu=(--budget 240 --train-volumes 80 --chans 32 --batch-size 16)
  mri_cpu=(--budget 360)
  gpt=(--time-limit 150)
fi
(nvidia-smi --query-gpu=name,memory.total --format=csv; nproc; python3 -c "import torch; print(torch.__version__)") \
  > "$OUT/machine.txt" 2>&1
pin 2-9 python3 benchmarks/mri_bench.py "${mri_gpu[@]}" --device "$GPU_DEVICE" --threads 4 --out "$WORK/mri_gpu" \
  > "$OUT/mri_gpu.log" 2>&1 &
pin 0,1 python3 benchmarks/mri_bench.py "${mri_cpu[@]}" --device cpu --threads 1 --out "$WORK/mri_cpu" \
  > "$OUT/mri_cpu.log" 2>&1 &
pin 10-15 python3 benchmarks/gpt_bench.py "${gpt[@]}" --out "$WORK/gpt_run" --json "$OUT/gpt.json" \
  > "$OUT/gpt.log" 2>&1 &
wait
for run in mri_gpu mri_cpu; do
  cp "$WORK/$run/results.json" "$OUT/$run.json" 2>/dev/null
  mkdir -p "$WORK/panels/$run" && cp "$WORK/$run"/panel_*.png "$WORK/panels/$run/" 2>/dev/null
done
tar -czf "$OUT/results.tar.gz" -C "$WORK" panels -C "$OUT" --exclude results.tar.gz . 2>/dev/null
ls -la "$OUT"
