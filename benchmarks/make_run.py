"""`make run` as a new user meets it: the defaults on the offline AG News split, the TF-Hub export made from an empty
cache, timed, then recorded (benchmarks/results/make_run/defaults.json).

    python benchmarks/make_run.py          # ~10 min on 2 cores
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import records
from tfbert import errors

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ["variant", "test accuracy", "epochs (best)", "train time", "train examples/s"]


def rows(results_md: str) -> list[list]:
    """The columns above from the results table `make run` prints (its results.md)."""
    lines = [line for line in results_md.splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    table = []
    for line in lines[1:]:
        cells = dict(zip(header, (cell.strip() for cell in line.strip("|").split("|"))))
        if cells["variant"].startswith(("hub_", "hf_", "kh_", "scratch")):
            table.append([cells["variant"], float(cells["test accuracy"]), cells["epochs (best)"],
                          cells["train time"], float(cells["train examples/s"])])
    return table


@errors.command
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data" / "ag_news")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "TFBERT_CACHE": str(Path(folder) / "cache"), "TFBERT_DATA_DIR": str(args.data_dir)}
        started = time.perf_counter()
        done = subprocess.run(["make", "run", f"ARGS=--out {Path(folder) / 'runs'} --verbose 2"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, text=True)
        seconds = time.perf_counter() - started
        if done.returncode:
            raise errors.UserError(f"make run failed (status {done.returncode}); its output is above")
        table = rows((Path(folder) / "runs" / "results.md").read_text())
    print(records.markdown(COLUMNS, table))
    records.write("make_run", "defaults", kind="table", label="`make run` on the offline data, empty TF-Hub cache",
                  command=records.command_line(__file__, argv), columns=COLUMNS, rows=table,
                  totals={"seconds": round(seconds)},
                  notes=f"{records.minutes(seconds)} with the TF-Hub export, the install not counted")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
