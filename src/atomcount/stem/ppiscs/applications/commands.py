"""``atomcount ppiscs fit | uncertainty | error-probability | figures`` (surrogate applications)."""
from __future__ import annotations

import json

import click

_BASE = dict(element="Au", zone="100", voltage_kv=300.0, convergence_mrad=21.0, inner_mrad=46.0,
             outer_mrad=190.0, rmsd=0.085)


def _settings(element, zone, voltage, convergence, inner, outer, rmsd) -> dict:
    return dict(element=element, zone=str(zone).strip("[]"), voltage_kv=voltage, convergence_mrad=convergence,
                inner_mrad=inner, outer_mrad=outer, rmsd=rmsd)


def _setting_options(f):
    for name, default, helptext in reversed([
        ("--element", "Au", "Chemical symbol."), ("--zone", "100", "Zone axis: 100 or 110."),
        ("--voltage", 300.0, "kV."), ("--convergence", 21.0, "Probe semi-angle α (mrad)."),
        ("--inner", 46.0, "Inner detector angle θ0 (mrad)."), ("--outer", 190.0, "Outer detector angle θe (mrad)."),
        ("--rmsd", 0.085, "rms displacement per direction (Å)."),
    ]):
        f = click.option(name, default=default, show_default=True, help=helptext)(f)
    return click.option("--weights", default=None, type=click.Path(dir_okay=False), help="Surrogate .npz.")(f)


@click.command()
@click.argument("measured", type=click.Path(dir_okay=False))
@_setting_options
@click.option("--sigmas", default="convergence_mrad=0.25,inner_mrad=1,outer_mrad=1", show_default=True,
              help="Standard deviations of the settings to fit (mrad, Å).")
@click.option("--n-sigma", default=3.0, show_default=True, help="Search box half-width in standard deviations.")
def fit(measured, element, zone, voltage, convergence, inner, outer, rmsd, weights, sigmas, n_sigma):
    """Fit α, θ0, θe (, rmsd) to a MEASURED curve CSV (atoms,ppiscs_A2) by Nelder–Mead."""
    from atomcount.core.errors import AtomcountError
    from atomcount.stem.ppiscs.applications.fit import FREE, fit_settings, read_curve

    try:
        sig = {k.strip(): float(v) for k, v in (p.split("=") for p in sigmas.split(",") if p.strip())}
    except ValueError:
        raise AtomcountError(f"--sigmas must look like convergence_mrad=0.25,inner_mrad=1, got {sigmas!r}") from None
    s = _settings(element, zone, voltage, convergence, inner, outer, rmsd)
    start = {k: s[k] for k in sig}
    fixed = {k: v for k, v in s.items() if k not in start}
    if set(start) - set(FREE):
        raise AtomcountError(f"--sigmas keys must be among {', '.join(FREE)}")
    r = fit_settings(read_curve(measured), fixed, start, sig, n_sigma, weights)
    click.echo(json.dumps({"fitted": r.params, "mean_abs_residual_A2": r.cost, "seconds": round(r.seconds, 4),
                           "evaluations": r.evaluations}, indent=1))


@click.command()
@_setting_options
@click.option("--sigmas", default="convergence_mrad=0.25,inner_mrad=0.5,outer_mrad=0.5,rmsd=0.0025", show_default=True,
              help="Half-widths of the uniform draws (mrad, Å).")
@click.option("--samples", default=1000, show_default=True)
@click.option("--seed", default=0, show_default=True)
def uncertainty(element, zone, voltage, convergence, inner, outer, rmsd, weights, sigmas, samples, seed):
    """Monte Carlo mean ± std of the curve from setting uncertainties."""
    from atomcount.stem.ppiscs.applications.uncertainty import monte_carlo

    sig = {k.strip(): float(v) for k, v in (p.split("=") for p in sigmas.split(",") if p.strip())}
    r = monte_carlo(_settings(element, zone, voltage, convergence, inner, outer, rmsd), sig, samples, seed, weights)
    click.echo("atoms  mean_A2  std_A2")
    for n, (m, s) in enumerate(zip(r.mean, r.std), start=1):
        click.echo(f"{n:5d}  {m:.6g}  {s:.3g}")


@click.command("error-probability")
@_setting_options
@click.option("--dose", default=1e4, show_default=True, help="e⁻/Å².")
@click.option("--max-atoms", default=None, type=int, help="Hypotheses 1…K [default: the zone's thickness].")
def error_probability(element, zone, voltage, convergence, inner, outer, rmsd, weights, dose, max_atoms):
    """Probability of miscounting a column (1…K atoms equally likely) at a dose."""
    from atomcount.stem.ppiscs.applications.error_probability import counting_error_probability
    from atomcount.stem.ppiscs.surrogate import predict

    c = predict(**_settings(element, zone, voltage, convergence, inner, outer, rmsd), weights=weights)
    click.echo(f"{counting_error_probability(c, dose, max_atoms):.4g}")


@click.command()
@click.option("--out", default="docs/figures", show_default=True, type=click.Path(file_okay=False))
@click.option("--weights", default=None, type=click.Path(dir_okay=False), help="Surrogate .npz.")
def figures(out, weights):
    """Write ppiscs_fig4…fig12 PNGs (held-out errors, curves, sweeps, fit, uncertainty, probability of error)."""
    from atomcount.stem.ppiscs.applications.plots import write_all

    for p in write_all(out, weights):
        click.echo(p)


def register(group: click.Group) -> None:
    """Add the surrogate application commands to the ``atomcount ppiscs`` group."""
    for cmd in (fit, uncertainty, error_probability, figures):
        group.add_command(cmd)
