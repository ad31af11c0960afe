"""Benchmark results as data: one JSON record per measured configuration, under benchmarks/results/.

    records.write("agnews_bert", "hf_finetune-peer-protocol", kind="seeds", ...)   # at the end of a benchmark
    python -m benchmarks.report                                                 # BENCHMARKS.md from all records

A record says what was run (command, commit, date, machine: `lscpu`'s model name and the flags that matter for
speed, cores, whether other jobs shared the CPU; TensorFlow and PyTorch versions) and what came out. Two kinds:

    "seeds": one configuration scored over seeds: {"metric": "test_accuracy", "seeds": {"0": 0.9059, ...},
             "extra": {"train examples/s": 13.6}, "peer": {"seeds": [...], "label": "..."}}
    "table": one run's table: {"columns": [...], "rows": [[...], ...]}

Writing a record with the same task and name replaces it: a rerun of a benchmark updates its row.
"""
import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import re
import shlex
import subprocess
from pathlib import Path

from tfbert import devices

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SPEED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")
NAME_CHARACTERS = r"\w.=-"  # what a record's name is made of (a character class): letters, digits, _ . = -


def tag(text: str) -> str:
    """An argparse type: a word that ends a record's name (NAME_CHARACTERS only)."""
    if not re.fullmatch(f"[{NAME_CHARACTERS}]+", text):
        raise argparse.ArgumentTypeError(f"letters, digits, _ . = - only, got {text!r}")
    return text


def cpu_kind() -> str:
    """The CPU's bfloat16 units ("amx_bf16", "avx512_bf16") or "no-bf16-units": what speed and suite records end their
    names in, so that records of CPUs of each kind stand side by side."""
    return devices.bf16_units() or "no-bf16-units"


def machine(shared_cpu: bool) -> dict:
    """This machine as a record names it: CPU model, the flags that decide matmul speed, cores, shared or not."""
    model = platform.processor() or platform.machine()
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines()
        fields = {line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip() for line in lines if ":" in line}
        model = fields.get("Model name", model)
    except (OSError, subprocess.CalledProcessError):
        pass
    flags = [flag for flag in SPEED_FLAGS if flag in devices.cpu_flags()]
    return {"cpu": model, "flags": flags, "cores": os.cpu_count(), "shared_cpu": shared_cpu}


def versions() -> dict:
    """Python's and the installed TensorFlow's, transformers' and PyTorch's (the peers' venv is another Python)."""
    found = {"python": platform.python_version()}
    for name in ("tensorflow", "transformers", "torch"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def busy() -> bool:
    """Whether other jobs shared the CPU: the 15-minute load average above the cores a benchmark uses, plus a half."""
    return os.getloadavg()[2] > (os.cpu_count() or 1) + 0.5


def commit() -> str | None:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    return (done.stdout.strip() + ("+changes" if dirty else "")) if done.returncode == 0 else None


def write(task: str, name: str, *, kind: str, label: str, command: str, shared_cpu=None, notes="", **result) -> Path:
    """Writes (or replaces) benchmarks/results/TASK/NAME.json for a measurement made now, on this machine.
    `shared_cpu`: whether other jobs ran beside it (default: judged from the load average, `busy`)."""
    shared_cpu = busy() if shared_cpu is None else shared_cpu
    record = {"task": task, "name": name, "kind": kind, "label": label, "command": command,
              "date": datetime.date.today().isoformat(), "commit": commit(), "machine": machine(shared_cpu),
              "versions": versions(), "provenance": "measured", **result, "notes": notes}
    path = Path(RESULTS) / task / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    print(f"record: {path} (python -m benchmarks.report regenerates BENCHMARKS.md)")
    return path


def command_line(script, argv) -> str:
    """How the benchmark was started: `python benchmarks/NAME.py ARGS`."""
    return " ".join(["python", f"benchmarks/{Path(script).name}", *map(shlex.quote, map(str, argv or []))])


def minutes(seconds: float) -> str:
    """"12 min 0 s": a duration as the records state it."""
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60} s"


def markdown(columns, rows) -> str:
    """A run's table as the scripts print it."""
    return "\n".join(["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns),
                      *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)])


def load(results=RESULTS) -> list[dict]:
    """Every record under `results`, in task and name order."""
    return [json.loads(path.read_text()) for path in sorted(Path(results).glob("*/*.json"))]
