"""Runs an experiment once per seed (each run resumable) and tabulates scores over the seeds."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
import records
from tfbert import errors, files, runs


def run_seeds(module, seeds, out: Path, arguments):
    """`python -m MODULE ARGUMENTS --seed S --out OUT/seedS` for each seed; a finished run is kept as is."""
    for seed in seeds:
        command = [sys.executable, "-m", module, *map(str, arguments), "--seed", str(seed), "--out", str(out / f"seed{seed}")]
        print("$", " ".join(command), flush=True)
        if subprocess.run(command, cwd=ROOT).returncode:
            raise errors.UserError(f"seed {seed} stopped (its message is above): fix that, then run this again; "
                                   "finished seeds are kept")


def table(out: Path, seeds, variants, scores) -> str:
    """Markdown: a row per (variant, score): each seed's value, mean ± sd; and the mean training examples/s."""
    lines = ["| variant | score | " + " | ".join(f"seed {s}" for s in seeds) + " | mean ± sd | train examples/s |",
             "|---|---|" + "---|" * (len(seeds) + 2)]
    for variant in variants:
        metrics = [files.read_json(out / f"seed{s}" / variant / runs.METRICS) for s in seeds]
        speed = np.mean([m["train_examples_per_second"] for m in metrics])
        for score in scores:
            values = np.array([m[score] for m in metrics])
            sd = values.std(ddof=1) if len(values) > 1 else 0.0
            lines.append(f"| {variant} | {score} | " + " | ".join(f"{v:.4f}" for v in values)
                         + f" | {values.mean():.4f} ± {sd:.4f} | {speed:.1f} |")
    return "\n".join(lines)


def record(task, out: Path, seeds, variants, metric, more, arguments, command, peer=None, labels=None):
    """A "seeds" record per variant (benchmarks/results/TASK/VARIANT[-ARGUMENTS].json): `metric` and the scores named
    in `more` per seed, and the mean training speed; `arguments` (the options beyond the script's own) name it."""
    suffix = re.sub(f"[^{records.NAME_CHARACTERS}]+", "_", "".join(f"-{str(a).lstrip('-')}" for a in arguments))
    for variant in variants:
        metrics = [files.read_json(out / f"seed{s}" / variant / runs.METRICS) for s in seeds]
        extra = {name: [m[key] for m in metrics] for name, key in more.items()}
        extra["train examples/s"] = round(float(np.mean([m["train_examples_per_second"] for m in metrics])), 1)
        label = (labels or {}).get(variant, " ".join([variant, *map(str, arguments)]))
        records.write(task, f"{variant}{suffix}", kind="seeds", label=label,
                      command=command, metric=metric, values={str(s): m[metric] for s, m in zip(seeds, metrics)},
                      extra=extra, peer=(peer or {}).get(variant))
