"""Proves that a change did not move a number: the same short runs at two commits, histories and metrics compared.

    python benchmarks/same_numbers.py run OUT_DIR           # from a checkout's root, with its .venv: ~10 min on 2 cores
    python benchmarks/same_numbers.py compare OLD_DIR NEW_DIR

`run` trains, float32 on the CPU, from ../shared/data:
    scratch    the AG News default: 15 epochs of the regularized preset
    bert       AG News hub_frozen, hub_finetune, hf_frozen, hf_finetune on 300 training texts (1 fine-tuning epoch)
    cola       CoLA `tuned`, 2 epochs on 800 sentences
    kantaibert the tiny RoBERTa, 60 steps
and writes OUT_DIR/numbers.json: every run's history and metrics without the fields that measure time.
`compare` says which numbers differ (bit for bit), or that none does, and records the comparison
(benchmarks/results/same_numbers/latest.json; python -m benchmarks.report shows it).
"""
import json
import subprocess
import sys
from pathlib import Path

import records

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
COMMANDS = {
    "scratch": ["experiments.agnews", "--data-dir", DATA / "ag_news", "--variants", "scratch"],
    "bert": ["experiments.agnews", "--data-dir", DATA / "ag_news", "--variants", "hub_frozen", "hub_finetune",
             "hf_frozen", "hf_finetune", "--bert-train-examples", "300", "--finetune-epochs", "1", "--head-epochs", "3"],
    "cola": ["experiments.cola", "--data-dir", DATA / "cola", "--variants", "tuned", "--epochs", "2",
             "--train-examples", "800"],
    "kantaibert": ["experiments.kantaibert", "--data-dir", DATA / "kant", "--size", "tiny", "--max-steps", "60"],
}
TIMING = ("seconds", "_per_second", "saved_model_max_abs_diff")  # keys that measure time (or float noise of export)


def without_timing(value):
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if not any(t in k for t in TIMING)}
    if isinstance(value, list):
        return [without_timing(v) for v in value]
    return value


def run(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    (out / "commit.txt").write_text(records.commit() + "\n")  # the code the runs start from
    numbers = {}
    for name, command in COMMANDS.items():
        target = out / name
        extra = ["--hub-cache", out / "hub"] if command[0] != "experiments.kantaibert" else []
        subprocess.run([sys.executable, "-m", *map(str, command), *map(str, extra), "--verbose", "0", "--out",
                        str(target)], check=True)
        for metrics in sorted(target.rglob("metrics.json")):
            run_dir = metrics.parent
            numbers[str(run_dir.relative_to(out))] = without_timing({
                "history": json.loads((run_dir / "history.json").read_text()),
                "metrics": json.loads(metrics.read_text())})
    (out / "numbers.json").write_text(json.dumps(numbers, indent=1) + "\n")
    print(f"{len(numbers)} runs: {', '.join(numbers)} -> {out / 'numbers.json'}")


def flat(value, prefix=""):
    if isinstance(value, dict):
        return {k2: v2 for k, v in value.items() for k2, v2 in flat(v, f"{prefix}{k}.").items()}
    if isinstance(value, list):
        return {k2: v2 for i, v in enumerate(value) for k2, v2 in flat(v, f"{prefix}{i}.").items()}
    return {prefix.rstrip("."): value}


def compare(old: Path, new: Path) -> int:
    a, b = (flat(json.loads((d / "numbers.json").read_text())) for d in (old, new))
    differ = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    for key in differ:
        print(f"differs: {key}: {a.get(key)} -> {b.get(key)}")
    print(f"{len(a)} numbers compared, {len(differ)} differ")
    commits = [(d / "commit.txt").read_text().strip() if (d / "commit.txt").exists() else str(d) for d in (old, new)]
    records.write("same_numbers", "latest", kind="table", label="histories and metrics of short runs of every "
                  "experiment, bit for bit", command="python benchmarks/same_numbers.py run OUT (at each commit); "
                  "python benchmarks/same_numbers.py compare OLD NEW", columns=["old", "new", "numbers compared", "differ"],
                  rows=[[*commits, len(a), len(differ)]], notes="; ".join(differ[:5]))
    return 1 if differ else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["run"] and len(sys.argv) == 3:
        run(Path(sys.argv[2]).resolve())
    elif sys.argv[1:2] == ["compare"] and len(sys.argv) == 4:
        sys.exit(compare(Path(sys.argv[2]), Path(sys.argv[3])))
    else:
        sys.exit(__doc__)
