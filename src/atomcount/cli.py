"""The ``atomcount`` command.

Units on the command line: lengths in Å, pixel sizes in Å/px, angles in mrad, voltages
in kV, Cs in µm, dose in e⁻/Å². Errors in the input are reported as one line on
stderr with exit status 2.

Sub-commands live next to the code they drive and are imported only when used, so
``atomcount --help`` is fast.
"""
from __future__ import annotations

import importlib
import sys

import click

from atomcount.core.errors import AtomcountError

#: sub-command name -> "module:attribute" of a click command or group
_COMMANDS = {
    "simulate": ("atomcount.commands.simulate:simulate", "Simulate training data (HRTEM exit waves)."),
    "dataset": ("atomcount.commands.dataset:dataset", "Inspect simulated data sets."),
    "train": ("atomcount.commands.train:train", "Train the column-height networks."),
    "train-continue": ("atomcount.commands.train_continue:train_continue",
                       "Advance the continuing HRTEM training run by one chunk (resumable)."),
    "evaluate": ("atomcount.commands.evaluate:evaluate", "Accuracy, sensitivity and forward CV of a model."),
    "count": ("atomcount.commands.count:count", "Count atoms per column in HRTEM images."),
    "movie": ("atomcount.commands.movie:movie", "Count, track and fuse columns through an HRTEM movie."),
    "model3d": ("atomcount.commands.model3d:model3d", "3-D atomic model from column counts."),
    "demo": ("atomcount.commands.demo:demo", "Simulate a particle, count it, write figures."),
    "ppiscs": ("atomcount.stem.ppiscs.cli:ppiscs", "ADF-STEM cross-sections: library, surrogate, fits."),
    "stem": ("atomcount.stem.cli:stem", "ADF-STEM: count atoms from column cross-sections."),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in _COMMANDS:
            return None
        target = _COMMANDS[name][0]
        module, attr = target.split(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("atomcount"):
                return None
            raise

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, _COMMANDS[name][1]) for name in self.list_commands(ctx)])


@click.group(cls=_LazyGroup)
@click.version_option(package_name="atomcount")
def cli() -> None:
    """Count atoms in the columns of metal nanoparticles (HRTEM) and predict ADF-STEM
    cross-sections (PPISCS).

    Units: Å for lengths, Å/px for pixel sizes, mrad for angles, kV for voltages,
    µm for Cs, e-/Å^2 for dose. C10 < 0 is underfocus.
    """


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning input errors into one line and exit status 2."""
    try:
        cli.main(args=argv, standalone_mode=False)
    except AtomcountError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
