"""Error floor of the additive surrogate's form vs what the trained network reaches.

``python -m atomcount.bench.ppiscs_capacity [--weights W]`` — for one library entry per element ([100],
300 kV, rmsd 0.085 Å) and Au [110], at three convergence angles, the best representation of each setting
by hats on fixed nodes truncated to rank R (:mod:`atomcount.stem.ppiscs.surrogate.capacity`), for the
shipped nodes and two finer node sets, against the trained network on the same held-out detectors. Writes
the ``ppiscs-surrogate-capacity`` section of BENCHMARKS.md.

``--learning-steps N`` instead trains the shipped recipe's network on one entry alone (rank 8, rank 16, and
rank 8 with six α harmonics; N steps, one thread) and scores it, and the shipped network, on that entry's
held-out curves (:func:`~atomcount.stem.ppiscs.surrogate.evaluate.make_test_set`): how much of the gap to
the floor is the sharing of one trunk across the whole library, how much the optimisation itself. Writes
``ppiscs-surrogate-learning``.
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import click  # noqa: E402
import numpy as np  # noqa: E402

from atomcount.core.provenance import write_section  # noqa: E402

CMD = "python -m atomcount.bench.ppiscs_capacity"
ENTRIES = tuple(f"{el}_100_300kV_rmsd0.0850" for el in ("Al", "Ni", "Cu", "Pd", "Ag", "Pt", "Au", "Pb")) + (
    "Au_110_300kV_rmsd0.0850",)
ALPHAS = (12.3, 21.1, 33.7)
RANKS = (4, 8, 16, None)
#: Entry of the learning study and the variants of the shipped network trained on it alone.
LEARNING_ENTRY = "Au_100_300kV_rmsd0.0850"
LEARNING_VARIANTS = ({"rank": 8, "alpha_harmonics": 0}, {"rank": 16, "alpha_harmonics": 0},
                     {"rank": 8, "alpha_harmonics": 6})


def node_sets() -> dict[str, np.ndarray]:
    """The shipped hat nodes and two finer sets (mrad)."""
    from atomcount.stem.ppiscs.surrogate.features import NODES

    return {f"shipped: 1 / 2 / 4 mrad ({len(NODES)} hats)": NODES,
            "1 mrad to 50, then 2 mrad (133 hats)": np.concatenate([np.arange(18.0, 50.0, 1.0),
                                                                    np.arange(50.0, 250.01, 2.0)]),
            "1 mrad (233 hats)": np.arange(18.0, 250.01, 1.0)}


def learning(weights: str | None, steps: int) -> None:
    """Write the learning section: networks trained on :data:`LEARNING_ENTRY` alone vs ``weights``."""
    import tempfile
    import time
    from pathlib import Path

    import torch

    from atomcount.stem.ppiscs.slicing_correction import load_correction
    from atomcount.stem.ppiscs.surrogate import load
    from atomcount.stem.ppiscs.surrogate.evaluate import errors, make_test_set
    from atomcount.stem.ppiscs.surrogate.features import build_table
    from atomcount.stem.ppiscs.surrogate.train import TRAIN_ALPHAS, domain_of, export, train

    torch.set_num_threads(1)
    meta = load(weights).meta
    corrected = bool(meta.get("slicing_correction"))
    table = build_table(TRAIN_ALPHAS, names=[LEARNING_ENTRY], dtype=np.float32,
                        correction=load_correction() if corrected else None)
    test = make_test_set(names=[LEARNING_ENTRY], slicing_correction=corrected)
    low = test.inner < 40.0

    def row(label: str, err: np.ndarray, cpu: str) -> str:
        return (f"| {label} | {err.mean():.1e} | {err[low].mean():.1e} | {err[~low].mean():.1e} | "
                f"{err.max():.1e} | {cpu} |")

    kw = dict(meta["model_kw"])
    rows = [row(f"shipped: {len(meta['domain']['entries'])} entries, rank {kw.get('rank')}, "
                f"{kw.get('alpha_harmonics', 0)} α harmonics, {meta['steps']} steps",
                errors(weights, test), f"{meta.get('train_seconds', 0) / 3600:.2f}")]
    with tempfile.TemporaryDirectory() as tmp:
        for k, variant in enumerate(LEARNING_VARIANTS):
            model_kw = {**kw, **variant}
            t0 = time.process_time()
            model, _, _ = train("additive", table, steps, seed=0, lr=meta["lr"], batch=meta["batch"],
                                detectors=meta["detectors"], log_every=steps, **model_kw)
            cpu = (time.process_time() - t0) / 3600
            path = Path(tmp) / f"variant{k}.npz"
            export(model, "additive", path, {"model_kw": model_kw, "domain": domain_of(table)})
            rows.append(row(f"{LEARNING_ENTRY} alone, rank {variant['rank']}, {variant['alpha_harmonics']} α harmonics, "
                            f"{steps} steps", errors(path, test), f"{cpu:.2f}"))
    body = f"""The shipped recipe's network (trunk {kw.get('width')}×{kw.get('depth')}, lr {meta['lr']}, batch
{meta['batch']} settings × {meta['detectors']} detectors{', slicing-corrected library' if corrected else ''})
trained on one entry alone, against the shipped network trained on every entry; all scored on the same
{len(test)} held-out curves of {LEARNING_ENTRY} (new α off the training grid × random detectors). The
capacity section gives this entry's floor of the form (best rank-8 representation ≈ 3–4.5e-4, rank 16
≈ 2.2–2.6e-4 at α = 12.3–33.7 mrad).

| network | mean L1n | θ0 < 40 mrad | θ0 ≥ 40 mrad | max | CPU-h (training) |
|---|---|---|---|---|---|
{chr(10).join(rows)}

Reading: the one-entry network shows what the optimisation reaches when the trunk serves one entry; the
gap from the shipped network to it is the cost of sharing the trunk across the library, the gap from it to
the floor is the optimisation's (steps, schedule, loss weights, non-negative factors). The α harmonics
(`features.alpha_harmonics`) address the part of that gap that comes from the bright-field disc edge
moving with α, which a smooth MLP of α learns slowly."""
    write_section("ppiscs-surrogate-learning", "PPISCS surrogate: one entry alone vs the whole library",
                  body, f"{CMD} --learning-steps {steps}" + (f" --weights {weights}" if weights else ""))


@click.command()
@click.option("--weights", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Network to compare [default: the shipped surrogate].")
@click.option("--learning-steps", default=0, show_default=True,
              help="Instead of the capacity section: train on one entry alone for this many steps (learning section).")
def main(weights: str | None, learning_steps: int) -> None:
    """Write the capacity section (or, with --learning-steps, the learning section)."""
    if learning_steps:
        learning(weights, learning_steps)
        return
    from atomcount.stem.ppiscs.library import list_entries
    from atomcount.stem.ppiscs.slicing_correction import load_correction
    from atomcount.stem.ppiscs.surrogate import load, predict_batch
    from atomcount.stem.ppiscs.surrogate.capacity import representation_errors
    from atomcount.stem.ppiscs.surrogate.features import N_ATOMS, build_table, normalised_l1

    meta = load(weights).meta
    corrected = bool(meta.get("slicing_correction"))
    present = {d["path"].rsplit("/", 1)[-1][:-3] for d in list_entries(None)}
    names = [n for n in ENTRIES if n in present and n in meta["domain"]["entries"]]
    table = build_table(np.array(ALPHAS), names=names, correction=load_correction() if corrected else None)
    floors: dict[tuple[str, int | None], list[float]] = {}
    network, per_entry = [], {}
    for i in range(len(table)):
        for b, (label, nodes) in enumerate(node_sets().items()):
            rng = np.random.default_rng([7, i])  # the same detectors for every node set
            err, (inner, outer, truth) = representation_errors(table, i, nodes, RANKS, rng=rng)
            for r, e in err.items():
                floors.setdefault((label, r), []).append(e)
            if b == 0:
                n = N_ATOMS[str(table.zone[i])]
                pred = predict_batch(str(table.entry[i]).split("_")[0], str(table.zone[i]), table.kv[i], table.alpha[i], inner,
                                     outer, table.rmsd[i], weights=weights, check=False)[:, :n]
                e_net = float(normalised_l1(pred, truth, np.full(len(inner), n)).mean())
                network.append(e_net)
                per_entry.setdefault(str(table.entry[i]), []).append((err[8], e_net))
    rows = ["| hat nodes | rank | mean L1n | worst setting |", "|---|---|---|---|"]
    for (label, r), v in floors.items():
        rows.append(f"| {label} | {'full' if r is None else r} | {np.mean(v):.1e} | {np.max(v):.1e} |")
    rows.append(f"| trained network ({meta['model_kw']}, {meta['steps']} steps) | {meta['model_kw'].get('rank')} "
                f"| {np.mean(network):.1e} | {np.max(network):.1e} |")
    entry_rows = ["| entry | best rank 8, shipped nodes | trained network |", "|---|---|---|"]
    for name, v in per_entry.items():
        entry_rows.append(f"| {name} | {np.mean([a for a, _ in v]):.1e} | {np.mean([b for _, b in v]):.1e} |")
    body = f"""The additive surrogate writes a detector's PPISCS as hat integrals on fixed nodes times a rank-R density
(`atomcount.stem.ppiscs.surrogate.capacity`). For each setting — {len(names)} entries ({', '.join(names)}) ×
α = {', '.join(f'{a:g}' for a in ALPHAS)} mrad, {'slicing-corrected, as the network was trained' if corrected else 'as the library holds them'} —
the best such representation is fitted directly (weighted least squares on 6000 random detectors, truncated
to rank R by a weighted SVD: signed factors, so a lower bound for the network's non-negative ones) and scored
by the normalised L1 error (paper 001 Eq. 2) on 2000 other random detectors; the trained network is scored
on the same detectors. Target (issue 11): mean ≤ 5e-4.

{chr(10).join(rows)}

Per entry (mean over the three α):

{chr(10).join(entry_rows)}

Reading: the rows with the shipped nodes are what the shipped form can reach at best; "full" isolates the
nodes, the ranks the factorisation. Where the trained network sits several times above its form's floor,
the rest is learning (the map from settings to factors), which more steps, a wider trunk or another
optimiser schedule address; where the floor itself is near the target, finer nodes or a higher rank are
needed first, and each costs inference time (the heads' size grows with rank × nodes)."""
    write_section("ppiscs-surrogate-capacity", "PPISCS surrogate: error floor of its form vs the trained network",
                  body, CMD + (f" --weights {weights}" if weights else ""))


if __name__ == "__main__":
    main()
