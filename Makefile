# atomcount: `make demo` and `make test` work on a fresh machine with Python 3.11, pip and gcc.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench install clean weights train-continue ppiscs-library ppiscs-queue ppiscs-surrogate ppiscs-surrogate-continue

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# CPU build of torch pinned first, so that nothing pulls a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/atomcount demo --out demo_output

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m atomcount.bench all

# Shipped HRTEM weights: fixed seeds throughout (data seeds 1, 2, 3: train, test, validation; training seed 0).
# About 20 min of simulation and 70–100 min of training on 2 CPU cores.
WEIGHT_STEPS ?= 4000
weights: $(STAMP)
	$(BIN)/atomcount simulate hrtem data/train -n 1200 --seed 1
	$(BIN)/atomcount simulate hrtem data/test -n 250 --seed 2
	$(BIN)/atomcount simulate hrtem data/val -n 60 --seed 3
	$(BIN)/atomcount train --data data/train --val-data data/val --out runs/fcn_au_300kv \
		--steps $(WEIGHT_STEPS) --batch 8 --crop 128 --width 16 --lr 2e-3 --seed 0 --val-every 1000 --threads 1
	$(BIN)/python -m atomcount.hrtem.training.ship runs/fcn_au_300kv --test-data data/test --images 500 --val-data data/val \
		--command "make weights WEIGHT_STEPS=$(WEIGHT_STEPS)"

# The continuing HRTEM run (training/hrtem, committed): resume, train HOURS, evaluate on whole
# frames, append to the ledger, ship when ≥ 1 point better. Start it in the background when work
# begins; commit training/hrtem (and src/atomcount/models when shipped) when work stops.
HOURS ?= 2
train-continue: $(STAMP)
	$(BIN)/atomcount train-continue --hours $(HOURS)

# PPISCS library entries (resumable; each [100] entry takes minutes, each [110] entry about 20 min on 2 cores)
# and the shipped surrogate trained on every one of them (held-out (α, θ0, θe) measure it; no entry is held back).
ppiscs-library: $(STAMP)
	$(BIN)/atomcount ppiscs simulate --elements Al,Ni,Cu,Pd,Ag,Pt,Au,Pb --zones 100 --voltages 300,200 --rmsd 0.085
	$(BIN)/atomcount ppiscs simulate --elements Au --zones 110 --voltages 300 --rmsd 0.085

# The queue over paper 001's whole domain (480 entries, the library's settings): status, then HOURS of work.
ppiscs-queue: $(STAMP)
	$(BIN)/atomcount ppiscs queue --run --hours $(HOURS) --report docs/ppiscs_queue.md

SURROGATE_STEPS ?= 100000
ppiscs-surrogate: $(STAMP)
	$(BIN)/python -m atomcount.stem.ppiscs.surrogate.train --model additive --steps $(SURROGATE_STEPS) --seed 0 --lr 0.002 \
		--batch 128 --detectors 8 --width 256 --depth 4 --rank 8 --alpha-harmonics 6 --element-onehot --slicing-correction \
		--out runs/ppiscs/additive.npz
	$(BIN)/python -m atomcount.stem.ppiscs.surrogate.ship runs/ppiscs/additive.npz

# The shipped recipe (trunk width 256, 6 harmonics of α, element indicators: features.network_inputs;
# slicing-corrected library) advanced HOURS
# at a time from its state in training/ppiscs (commit it while unfinished); once it has done its steps it
# exports runs/ppiscs/w256_onehot.npz — measure it (python -m atomcount.bench.ppiscs_surrogate --weights …)
# before shipping it with python -m atomcount.stem.ppiscs.surrogate.ship.
ppiscs-surrogate-continue: $(STAMP)
	$(BIN)/python -m atomcount.stem.ppiscs.surrogate.train --model additive --steps $(SURROGATE_STEPS) --seed 0 \
		--lr 0.002 --batch 128 --detectors 8 --width 256 --depth 4 --rank 8 --alpha-harmonics 6 --element-onehot --slicing-correction \
		--checkpoint training/ppiscs/surrogate_w256_onehot.pt --hours $(HOURS) --out runs/ppiscs/w256_onehot.npz

clean:
	rm -rf $(VENV) demo_output build *.egg-info
