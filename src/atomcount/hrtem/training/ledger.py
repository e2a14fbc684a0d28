"""The CPU-hour ledger of the continuing HRTEM run: a plot and a BENCHMARKS.md section."""
from __future__ import annotations

from pathlib import Path

FIGURE = Path("docs/figures/hrtem_ledger.png")


def run_segments(rows: list[dict]) -> list[tuple[int, int]]:
    """Index ranges [a, b) of the training runs in one head's ledger rows, each drawn as its own line.

    A run starts where the step count falls (``train-continue --restart``) or where the recipe's first
    token changes (``seed17`` after ``seed16``; ``gpu-lease-…`` rows of weights trained elsewhere). The
    ``baseline`` row (the model shipped before the first run) is where the run after it starts from."""
    def run_of(row: dict) -> str:
        return row["recipe"].split("-")[0]

    def new_run(i: int) -> bool:
        a, b = rows[i - 1], rows[i]
        return int(b["steps"]) < int(a["steps"]) or (a.get("chunk") != "baseline" and run_of(a) != run_of(b))

    starts = [0] + [i for i in range(1, len(rows)) if new_run(i)] + [len(rows)]
    return list(zip(starts[:-1], starts[1:]))


def plot_ledger(rows: list[dict], path: Path = FIGURE) -> Path:
    """Exact and ±1 accuracy on whole frames against cumulative CPU-hours, per head."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6), dpi=110)
    for head, colour in (("regression", "tab:blue"), ("classification", "tab:orange")):
        r = [x for x in rows if x["head"] == head]
        h = [float(x["cpu_hours"]) for x in r]
        for k, (a, b) in enumerate(run_segments(r)):
            ax.plot(h[a:b], [float(x["exact"]) for x in r[a:b]], "o-", color=colour,
                    label=f"{head}: exact" if k == 0 else None)
            ax.plot(h[a:b], [float(x["within_1"]) for x in r[a:b]], "s--", color=colour, alpha=0.5,
                    label=f"{head}: ±1" if k == 0 else None)
        for x, hh in zip(r, h):
            if x["recipe"] != r[0]["recipe"] and x is r[[y["recipe"] for y in r].index(x["recipe"])]:
                ax.axvline(hh, color="grey", lw=0.8, ls=":")  # the recipe changed: the curve restarts
    ax.axhline(0.95, color="k", lw=0.8, ls=":", label="target exact 0.95")
    ax.set_xlabel("cumulative CPU-hours of continued training")
    ax.set_ylabel("fraction of true columns")
    ax.set_title("Whole frames, never-trained particle families")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def ledger_markdown(rows: list[dict]) -> str:
    """The ledger as a Markdown table (one row per chunk and head)."""
    head = ("| date | chunk | recipe | steps | CPU-h | head | exact | ±1 | exact ≥ 10 | precision 1e2 / 1e3 / 1e4 / 1e5 "
            "| min recall | shipped |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    body = "".join(
        f"| {r['date']} | {r['chunk']} | {r['recipe']} | {r['steps']} | {r['cpu_hours']} | {r['head']} | {r['exact']} | "
        f"{r['within_1']} | {r['exact_ge10']} | {r['precision_1e2']} / {r['precision_1e3']} / {r['precision_1e4']} / "
        f"{r['precision_1e5']} | {r['recall_min']} | {r['shipped']} |\n" for r in rows)
    return head + body


def write_ledger_report(state_dir: Path | None = None) -> None:
    """Redraw the ledger figure and rewrite the ``hrtem-ledger`` section of BENCHMARKS.md."""
    from atomcount.core.provenance import write_section
    from atomcount.hrtem.training.chunks import STATE_DIR, read_ledger

    rows = read_ledger(state_dir or STATE_DIR)
    if not rows:
        return
    plot_ledger(rows)
    body = ("Each chunk of `make train-continue` resumes the committed run in `training/hrtem`, trains for its "
            "budget on 1 CPU thread, and is scored on the whole-frame trust evaluation "
            "(`python -m atomcount.bench.hrtem_wholeframe`). CPU-hours are the process CPU time of training "
            "(rendering included). `baseline` is the model shipped before the run; `gpu-lease` rows are weights "
            "trained in a GPU lease and shipped (docs/compute_log.md, section `hrtem-gpu-lease`), placed at the "
            "CPU-hours spent so far: they used none of this machine's.\n\n"
            f"![ledger]({FIGURE.as_posix()})\n\n" + ledger_markdown(rows))
    write_section("hrtem-ledger", "HRTEM training ledger: whole-frame accuracy against CPU-hours", body,
                  "make train-continue HOURS=2")
