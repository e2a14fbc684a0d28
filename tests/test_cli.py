"""The command line: help, errors as one line with exit status 2."""
import subprocess
import sys

import pytest


def run(*args):
    return subprocess.run([sys.executable, "-m", "atomcount.cli", *args], capture_output=True, text=True)


def test_help_lists_commands_and_units():
    r = run("--help")
    assert r.returncode == 0
    for cmd in ("simulate", "count", "train", "evaluate", "demo", "ppiscs"):
        assert cmd in r.stdout
    assert "Å" in r.stdout and "mrad" in r.stdout


@pytest.mark.parametrize("args,fragment", [
    (["simulate", "hrtem", "OUT", "-n", "2", "--sampling", "0.5"], "sampling"),
    (["simulate", "hrtem", "OUT", "-n", "0"], "n_particles"),
    (["simulate", "hrtem", "OUT", "-n", "2", "--element", "Xx"], "Xx"),
    (["dataset", "info", "."], "not an atomcount data set"),
])
def test_bad_arguments_give_one_line_and_exit_2(tmp_path, args, fragment):
    args = [str(tmp_path / a) if a == "OUT" else a for a in args]
    r = subprocess.run([sys.executable, "-m", "atomcount.cli", *args], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2
    assert fragment in r.stderr
    assert "Traceback" not in r.stderr
