#!/usr/bin/env bash
# The MRI benchmarks for a lent GPU machine (never in CI), run side by side in one call, each job on
# its own CPU cores (taskset) so that none slows another down on the CPU; the GPU jobs share the GPU:
#   - the single-coil U-Net benchmark on the CPU, pinned to 2 cores (the size of the project's
#     machines), twice with different training seeds, to see how much one run's figures move;
#   - the single-coil U-Net benchmark on the GPU at a larger size (32 channels, 150 volumes, batch 16);
#   - the multi-coil (8-coil) benchmark on the GPU, E2E-VarNet against the U-Net.
# Every job stops itself (timeout) before the device call's own limit; mri_bench.py writes its
# results.json after each evaluation, so a stopped job keeps what it measured.
# (The GPT benchmark ran in an earlier version of this script; see docs/gpt.md.)
# Results land in OUT: one results.json per job (OUT/NAME.json), and OUT/results.tar.gz with those,
# each job's log, machine.txt and the comparison panels.
# Usage: bash benchmarks/gpu_checks.sh OUT [full|smoke]   (python3 must have torch and the mri extra)
set -uo pipefail
OUT=${1:?usage: gpu_checks.sh OUT [full|smoke]}
SCALE=${2:-full}
GPU_DEVICE=${GPU_DEVICE:-cuda}
JOB_LIMIT=${JOB_LIMIT:-560}
WORK=$(mktemp -d)
LOGS="$WORK/logs"
mkdir -p "$OUT" "$LOGS/panels"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
pin() { if command -v taskset >/dev/null && [ "$(nproc)" -ge 16 ]; then taskset -c "$1" "${@:2}"; else "${@:2}"; fi; }
if [ "$SCALE" = smoke ]; then
  small=(--train-volumes 6 --test-volumes 1 --slices 2 --cs-iterations 10)
  cpu=(--budget 10 "${small[@]}")
  sc_gpu=(--budget 10 "${small[@]}" --chans 32 --batch-size 16)
  mc=(--budget 10 "${small[@]}" --coils 8)
else
  cpu=(--budget 240)
  sc_gpu=(--budget 200 --train-volumes 150 --chans 32 --batch-size 16)
  mc=(--budget 180 --train-volumes 90 --coils 8 --cs-iterations 100)
fi
(nvidia-smi --query-gpu=name,memory.total --format=csv; nproc; python3 -c "import torch; print(torch.__version__)") \
  > "$LOGS/machine.txt" 2>&1
job() {  # job NAME CORES N_CORES ARGS...: one mri_bench.py run, its log and results.json into OUT
  local name=$1 cores=$2 n=$3
  # numpy / sigpy (numba) thread pools default to every core of the machine: on 2 pinned cores that
  # oversubscription made the CPU jobs' CS baselines several times slower (first run of this script).
  OMP_NUM_THREADS=$n OPENBLAS_NUM_THREADS=$n MKL_NUM_THREADS=$n NUMBA_NUM_THREADS=$n pin "$cores" timeout "$JOB_LIMIT" python3 benchmarks/mri_bench.py "${@:4}" --out "$WORK/$name" \
    > "$LOGS/$name.log" 2>&1
  cp "$WORK/$name/results.json" "$OUT/$name.json" 2>/dev/null && cp "$OUT/$name.json" "$LOGS/"
}
job sc_unet_cpu_seed0 0,1 2 "${cpu[@]}" --device cpu --threads 1 --seed 0 &
job sc_unet_cpu_seed1 2,3 2 "${cpu[@]}" --device cpu --threads 1 --seed 1 &
job sc_unet_gpu 4-7 4 "${sc_gpu[@]}" --device "$GPU_DEVICE" --threads 4 &
job mc_varnet_gpu 8-11 4 "${mc[@]}" --model varnet --chans 18 --cascades 8 --batch-size 4 \
  --device "$GPU_DEVICE" --threads 4 &
job mc_unet_gpu 12-15 4 "${mc[@]}" --model unet --chans 32 --batch-size 8 --device "$GPU_DEVICE" --threads 4 &
wait
for run in sc_unet_cpu_seed0 sc_unet_gpu mc_varnet_gpu; do
  for panel in "$WORK/$run"/panel_*.png; do [ -f "$panel" ] && cp "$panel" "$LOGS/panels/${run}_$(basename "$panel")"; done
done
tar -czf "$OUT/results.tar.gz" -C "$WORK" logs
tail -n 3 "$LOGS"/*.log
ls -la "$OUT"
