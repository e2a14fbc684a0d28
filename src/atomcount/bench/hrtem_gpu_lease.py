"""HRTEM weights from a GPU lease on the trust set, beside the shipped model measured in the same run.

``python -m atomcount.bench.hrtem_gpu_lease MODEL… [--ship MODEL]`` evaluates the weights that
``scripts/gpu_lease.sh`` brought back (docs/compute_log.md) on whole frames of never-trained
particles (:mod:`atomcount.bench.hrtem_wholeframe`), writes the ``hrtem-gpu-lease`` section of
BENCHMARKS.md and, with ``--ship``, installs one of them (float16) as the default model when its
better head reads ≥ 1 point more columns exactly than the shipped model's. With ``--ship-fast``,
one of them replaces the fast model ``fcn_au_300kv_fast`` when it is no worse than that model
(≤ 0.5 point less exact, ≤ 5 % slower) and better on one count (≥ 1 point more exact or ≥ 10 %
faster), both measured in the same run.
"""
from __future__ import annotations

import argparse
from pathlib import Path


def report(models: list[Path], *, workers: int = 2, threads: int = 2, fast: bool = False) -> tuple[dict, dict]:
    """Whole-frame trust evaluation of lease weights beside the shipped model, measured in the same run.

    Writes the ``hrtem-gpu-lease`` section of BENCHMARKS.md. Returns two dicts keyed by model
    name (``"shipped"``, ``"shipped fast"`` with ``fast`` when that model exists, and each file's
    stem): its two ledger-style rows (:func:`~atomcount.hrtem.training.chunks.ledger_rows`, one per
    head) and its per-column records.
    """
    from atomcount.bench.hrtem_wholeframe import WHOLEFRAME_INTRO
    from atomcount.bench.hrtem_wholeframe import run as wholeframe
    from atomcount.core.provenance import write_section
    from atomcount.hrtem.analysis.count import FAST_MODEL
    from atomcount.hrtem.training.chunks import ledger_rows

    state = {"steps": 0, "cpu_hours": 0.0, "wall_hours": 0.0}
    records = {"shipped": wholeframe(None, workers=workers, threads=threads)}
    if fast and FAST_MODEL.exists():
        records["shipped fast"] = wholeframe(str(FAST_MODEL), workers=workers, threads=threads)
    for m in models:
        records[m.stem] = wholeframe(str(m), workers=workers, threads=threads)
    rows = {name: ledger_rows(r, chunk="", recipe=name, state=state, shipped="") for name, r in records.items()}
    keys = ["exact", "within_1", "exact_ge10", "precision_1e2", "precision_1e3", "precision_1e4", "precision_1e5",
            "recall_min"]
    labels = {"shipped": "default model as shipped before this run",
              "shipped fast": "fast model as shipped before this run"}
    table = "\n".join(f"| {labels.get(name, name)} | {r['head']} | " + " | ".join(r[k] for k in keys) + " |"
                      for name, pair in rows.items() for r in pair)
    body = ("Weights trained in a GPU lease (`scripts/gpu_lease.sh`, docs/compute_log.md) beside the shipped "
            "model, on the trust set, in one run. " + WHOLEFRAME_INTRO + "\n\n| model | head | exact | ±1 | "
            "exact ≥ 10 | precision 1e2 | 1e3 | 1e4 | 1e5 | min recall |\n|---|---|---|---|---|---|---|---|---|---|\n"
            + table + "\n")
    write_section("hrtem-gpu-lease", "HRTEM weights from a GPU lease, on whole frames", body,
                  "python -m atomcount.bench.hrtem_gpu_lease MODEL …")
    print(body)
    return rows, records


def _ship_if_better(model: Path, rows: dict, records: dict, *, workers: int, threads: int) -> None:
    """Ship ``model`` (float16) as the default when its better head beats the shipped model's by ≥ 1 point.

    A shipped model gets ledger rows of its own (chunk ``gpu-lease``, marked shipped, at the ledger's
    CPU-hours so far: the lease spent none of this machine's), so that the continuing run ships
    only what beats it.
    """
    from atomcount.commands.train_continue import ship_default
    from atomcount.hrtem.evaluation.wholeframe import wholeframe_markdown
    from atomcount.hrtem.nn.checkpoint import load_model
    from atomcount.hrtem.training.chunks import append_ledger, ledger_rows, read_ledger
    from atomcount.hrtem.training.ledger import write_ledger_report

    best = {name: _better_head(rows[name]) for name in ("shipped", model.stem)}
    if best[model.stem] < best["shipped"] + 0.01:
        print(f"not shipped: {best[model.stem]:.3f} exact against the shipped model's {best['shipped']:.3f}")
        return
    ship_default(model, command=f"scripts/gpu_lease.sh (GPU), then python -m atomcount.bench.hrtem_gpu_lease "
                                f"… --ship {model}", workers=workers, threads=threads, half=True,
                 extra={"gpu_lease": "docs/compute_log.md", "wholeframe_markdown": wholeframe_markdown(
                     records[model.stem])})
    # the continuing CPU run ships only what beats the shipped model: the ledger must know this one
    meta = load_model(model)[1]
    ledger = read_ledger()
    state = {"steps": meta["steps"], "cpu_hours": float(ledger[-1]["cpu_hours"]) if ledger else 0.0,
             "wall_hours": meta["train_seconds"] / 3600}
    append_ledger(ledger_rows(records[model.stem], chunk="gpu-lease", recipe=f"gpu-lease-{model.stem}", state=state,
                              shipped="yes"))
    write_ledger_report()
    print(f"shipped {model}: {best[model.stem]:.3f} exact (the model shipped before: {best['shipped']:.3f})")


def _better_head(rows: list[dict]) -> float:
    """Exact fraction of the better head of a model's ledger-style rows."""
    return max(float(r["exact"]) for r in rows)


def _ship_fast_if_better(model: Path, rows: dict, *, workers: int, threads: int, repeats: int = 7) -> None:
    """Ship ``model`` (float16) as ``fcn_au_300kv_fast`` when it beats the fast model shipped now.

    No worse on either count (≤ 0.5 point less exact, ≤ 5 % slower network forward on a 512² frame,
    float32, median of ``repeats``) and better on one (≥ 1 point more exact or ≥ 10 % faster); any
    model when none is shipped. Not entered in the ledger, which follows the default model.
    """
    import torch

    from atomcount.bench.hrtem_accuracy import _median_s, _timing_frame
    from atomcount.commands.train_continue import ship_default
    from atomcount.hrtem.analysis.count import FAST_MODEL, load_counting_model
    from atomcount.hrtem.analysis.predict import predict_maps

    frame, _ = _timing_frame()
    torch.set_num_threads(threads)

    def forward_s(path: Path) -> float:
        net = load_counting_model(str(path))[0]
        return _median_s(lambda: predict_maps(net, frame, "cpu", precision="float32"), repeats)

    new = {"exact": _better_head(rows[model.stem]), "seconds": forward_s(model)}
    what = f"{model}: {new['exact']:.3f} exact, forward {new['seconds'] * 1e3:.0f} ms"
    if "shipped fast" in rows:
        old = {"exact": _better_head(rows["shipped fast"]), "seconds": forward_s(FAST_MODEL)}
        what += f"; shipped fast model {old['exact']:.3f}, {old['seconds'] * 1e3:.0f} ms"
        no_worse = new["exact"] >= old["exact"] - 0.005 and new["seconds"] <= 1.05 * old["seconds"]
        better = new["exact"] >= old["exact"] + 0.01 or new["seconds"] <= 0.9 * old["seconds"]
        if not (no_worse and better):
            print(f"not shipped as the fast model: {what}")
            return
    ship_default(model, name=FAST_MODEL.stem, half=True, workers=workers, threads=threads,
                 command=f"scripts/gpu_lease.sh (GPU), then python -m atomcount.bench.hrtem_gpu_lease … "
                         f"--ship-fast {model}",
                 extra={"gpu_lease": "docs/compute_log.md",
                        "forward_ms_512": round(new["seconds"] * 1e3, 1)})
    print(f"shipped as the fast model: {what}")


def main(argv: list[str] | None = None) -> None:
    """Command line: report lease weights (and ``--ship`` one of them)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", type=Path, help="model files brought back from the lease")
    p.add_argument("--ship", type=Path, default=None,
                   help="ship this one (float16) when it beats the shipped model by ≥ 1 point exact")
    p.add_argument("--ship-fast", type=Path, default=None,
                   help="ship this one (float16) as the fast model fcn_au_300kv_fast when it beats that model")
    p.add_argument("--workers", type=int, default=2, help="processes simulating missing data sets")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    a = p.parse_args(argv)
    for m in a.models:
        if not m.is_file():
            raise SystemExit(f"error: no model file {m}")
    for option, m in (("--ship", a.ship), ("--ship-fast", a.ship_fast)):
        if m and m not in a.models:
            raise SystemExit(f"error: {option} {m} is not among the models reported")
    if a.ship and a.ship == a.ship_fast:
        raise SystemExit("error: --ship and --ship-fast name the same model")
    rows, records = report(a.models, workers=a.workers, threads=a.threads, fast=a.ship_fast is not None)
    if a.ship:
        _ship_if_better(a.ship, rows, records, workers=a.workers, threads=a.threads)
    if a.ship_fast:
        _ship_fast_if_better(a.ship_fast, rows, workers=a.workers, threads=a.threads)


if __name__ == "__main__":
    main()
