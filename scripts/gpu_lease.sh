#!/usr/bin/env bash
# HRTEM training in one GPU lease: simulate the training set, then train the lease's variants side by side
# (atomcount.hrtem.training.lease) until TRAIN_SECONDS after the start of this script; each exports its
# weight average to runs/lease/VARIANT/model.pt. Run it detached (setsid) so that it outlives one call:
#
#   setsid nohup scripts/gpu_lease.sh 1320 s2w32 s1w32 > runs/lease/driver.log 2>&1 &
#
# Needs atomcount's dependencies on the node (docs/hrtem.md, "Training on an offline GPU node").
set -euo pipefail
start=$(date +%s)
seconds=$1; shift
variants=("$@")
PY=${PY:-python3}
cores=$(nproc)
workers=$(( (cores - ${#variants[@]}) / ${#variants[@]} ))
mkdir -p runs/lease
$PY -m atomcount simulate hrtem data/train -n 1200 --seed 1 --workers "$cores"
echo "simulation: $(( $(date +%s) - start )) s"
for v in "${variants[@]}"; do
  $PY -m atomcount.hrtem.training.lease --variant "$v" --out "runs/lease/$v" --deadline $(( start + seconds )) \
    --workers "$workers" > "runs/lease/$v.log" 2>&1 &
done
wait
echo "done: $(( $(date +%s) - start )) s"
