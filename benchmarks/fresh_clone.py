"""The test suite as CI runs it: `.ci/run` (install included) on a fresh clone of HEAD, timed, then recorded.

    python benchmarks/fresh_clone.py        # ~15 min on 2 cores; writes benchmarks/results/suite/make-test-UNITS.json

UNITS names the CPU kind by its bfloat16 units (amx_bf16, avx512_bf16, no-bf16-units), as the speed records do: the
suite's time depends on it, and each kind keeps its record.

The clone sits in a temporary folder beside a link to ../shared, as CI's checkout does; nothing else should run.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import records
from tfbert import errors

ROOT = Path(__file__).resolve().parents[1]


@errors.command
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared", help="the folder CI has beside it")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        clone = Path(folder) / "tfbert"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        (Path(folder) / "shared").symlink_to(args.shared.resolve())
        started = time.perf_counter()
        done = subprocess.run(["bash", ".ci/run"], cwd=clone, env={**os.environ, "CI": "true"}, capture_output=True,
                              text=True, stdin=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
    sys.stdout.write(done.stdout[-3000:])
    summary = re.findall(r"^=+ (.*) in ([\d.]+)s", done.stdout, re.M)
    if done.returncode or not summary:
        raise errors.UserError(f".ci/run failed (status {done.returncode}): {done.stderr.strip()[-300:]}")
    counts, test_seconds = summary[-1][0], float(summary[-1][1])
    passed = int(re.search(r"(\d+) passed", counts).group(1))
    total = sum(int(n) for n in re.findall(r"(\d+) (?:passed|failed|skipped|error)", counts))
    units = records.cpu_kind()
    records.write("suite", f"make-test-{units}", kind="table",
                  label=f"`make test` on a fresh clone, install included (CPU bf16 units: {units})",
                  command=records.command_line(__file__, argv), columns=["tests", "passed", "tests time", "in all"],
                  rows=[[total, passed, records.minutes(test_seconds), records.minutes(seconds)]], notes=counts)


if __name__ == "__main__":
    main()
