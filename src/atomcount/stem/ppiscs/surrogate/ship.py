"""Ship surrogate weights: evaluate them on held-out curves and write the model card.

``python -m atomcount.stem.ppiscs.surrogate.ship WEIGHTS.npz`` copies the weights to
``atomcount/models/ppiscs_surrogate.npz`` and writes ``ppiscs_surrogate.md`` beside them:
training data, command, time and the held-out errors (normalised L1, paper 001 Eq. 2).
"""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import click
import numpy as np

from atomcount.stem.ppiscs.surrogate import DEFAULT_WEIGHTS


def model_card(weights: Path) -> str:
    """Markdown model card of the weights at ``weights``, with errors measured now."""
    from atomcount.core.provenance import machine_description
    from atomcount.stem.ppiscs.surrogate import load
    from atomcount.stem.ppiscs.surrogate.evaluate import additivity_error, errors, make_test_set

    m = load(weights)
    meta = m.meta
    corrected = meta.get("slicing_correction")
    test = make_test_set(slicing_correction=bool(corrected))
    err = errors(weights, test)
    trained = np.isin(test.entry, meta["domain"]["entries"])
    rows = []
    for name, k in (("new (α, θ0, θe) on trained entries", trained), ("entries never trained on", ~trained)):
        if k.any():
            rows.append(f"| {name} | {int(k.sum())} | {err[k].mean():.2e} | {np.percentile(err[k], 99):.2e} | "
                        f"{err[k].max():.2e} |")
    return f"""# Model card: ppiscs_surrogate

- **Task**: PPISCS (Å² per column) of 1…61 ([100]) or 1…87 ([110]) atoms for a convergence angle
  α = {meta['domain']['alpha_mrad'][0]}–{meta['domain']['alpha_mrad'][1]} mrad and an annular detector
  θ0–θe within {meta['domain']['theta_mrad'][0]}–{meta['domain']['theta_mrad'][1]} mrad (width ≥ {meta['domain']['min_width_mrad']} mrad).
- **Network**: `{m.kind}` {meta['model_kw']}: additive over detectors by construction (a non-negative
  angular density integrated over [θ0, θe]); NumPy inference, no torch at run time.
- **Training data**: the simulation library entries {', '.join(meta['domain']['entries'])}
  (α on a 0.2-mrad grid, detectors drawn afresh each step){f", corrected to converged slicing (table rows {corrected}); the errors below are against the corrected library" if corrected else ""}. Held out of training: {', '.join(meta['holdout_entries']) or 'none'}.
  Settings outside these entries are refused (`extrapolate=True` warns instead).
- **Training**: {meta['steps']} steps, batch {meta['batch']}, seed {meta['seed']}, {meta['train_seconds'] / 60:.0f} min on one CPU thread.
- **Command**: `{meta['command']}`
- **Date**: {dt.date.today().isoformat()}; errors measured on {machine_description()}.

## Held-out curves (12 α off the training grid × 20 random detectors per library entry)

Normalised L1 = mean over atoms of |surrogate − simulation| / max(simulation). Paper 001: mean 6.0e-4;
target: mean ≤ 5e-4, worst ≤ 1 %.

| test | curves | mean | 99th percentile | max |
|---|---|---|---|---|
{chr(10).join(rows)}

Additivity error over contiguous detectors: {additivity_error(weights, test):.1e} (float32 rounding).
"""


@click.command()
@click.argument("weights", type=click.Path(exists=True, dir_okay=False))
def main(weights: str) -> None:
    """Install WEIGHTS as the shipped surrogate and write its model card."""
    target = DEFAULT_WEIGHTS
    if Path(weights).resolve() != target:
        tmp = target.with_name(target.name + ".tmp")
        shutil.copyfile(weights, tmp)
        tmp.replace(target)
    target.with_suffix(".md").write_text(model_card(target))
    click.echo(f"wrote {target} and {target.with_suffix('.md')}")


if __name__ == "__main__":
    main()
