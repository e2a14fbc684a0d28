#!/usr/bin/env bash
# Train the shipped HRTEM weights on a machine with a CUDA GPU (how models/fcn_au_300kv.pt was made).
#
#   scripts/gpu_weights.sh DATA_ROOT RUN_DIR BUDGET_SECONDS [WORKERS]
#
# Simulates the training (seed 1) and validation (seed 3) sets of `make weights`, times 60
# training steps, then trains for as many steps (a multiple of 500) as fit in the budget,
# counted from the start of the script. Fixed seeds throughout; the step count is printed
# and stored in the model. The shipped model was then fine-tuned on CPU with more off-particle
# crops (exact commands in src/atomcount/models/fcn_au_300kv.md):
#   atomcount train --data data/train --val-data data/val --out runs/fcn_finetune --steps 1200 --batch 8 \
#     --crop 128 --width 16 --lr 3e-4 --seed 1 --val-every 400 --threads 1 --workers 1 --particle-bias 0.6 \
#     --init RUN_DIR/model.pt
#   and again: --out runs/fcn_finetune2 --steps 1500 --lr 2e-4 --seed 2 --val-every 500 --init runs/fcn_finetune/model.pt
# Then ship on any machine:
#   python -m atomcount.hrtem.training.ship RUN_DIR --test-data data/test --images 500 --val-data data/val --command "..."
set -euo pipefail
root=$1; run=$2; budget=$3; workers=${4:-14}
PY=${PY:-python3}
start=$(date +%s)
common=(--batch 32 --crop 128 --width 16 --lr 2e-3 --seed 0 --device cuda --threads 4 --workers "$workers")
$PY -m atomcount simulate hrtem "$root/train" -n 1200 --seed 1 --workers "$workers"
$PY -m atomcount simulate hrtem "$root/val" -n 60 --seed 3 --workers "$workers"
echo "simulation: $(( $(date +%s) - start )) s"
rm -rf "$root/timing"
$PY -m atomcount train --data "$root/train" --out "$root/timing" --steps 60 --val-every 0 "${common[@]}" > /dev/null
rate=$($PY -c "import csv,sys; r=list(csv.DictReader(open(sys.argv[1]))); print((60-20)/(float(r[-1]['seconds'])-float(r[19]['seconds'])))" "$root/timing/log.csv")
left=$(( budget - ($(date +%s) - start) - 90 ))
steps=$($PY -c "import sys; print(max(500, int(float(sys.argv[1]) * int(sys.argv[2]) * 0.92) // 500 * 500))" "$rate" "$left")
echo "rate: $rate steps/s; training $steps steps"
$PY -m atomcount train --data "$root/train" --val-data "$root/val" --out "$run" --steps "$steps" --val-every 1000 "${common[@]}"
echo "total: $(( $(date +%s) - start )) s"
