"""Shared fixtures. Two logical CPU devices are configured before TensorFlow starts, for MirroredStrategy."""
import csv
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tfbert.keras import tf

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2
)

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

# Each class has its own words, so a tiny model learns the synthetic task in a few steps.
TOPIC_WORDS = (
    ("election", "minister", "treaty", "embassy", "parliament"),
    ("match", "coach", "season", "goal", "tournament"),
    ("shares", "profit", "market", "merger", "investor"),
    ("software", "chip", "internet", "research", "space"),
)
FILLER = ("the", "a", "on", "after", "new", "report", "says", "today", "in", "with")


def write_ag_news_csv(path, rows: int, seed: int):
    """An `ag_news_csv`-format file (every field quoted) whose text reveals the class."""
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, quoting=csv.QUOTE_ALL)
        for i in range(rows):
            label = i % 4
            words = lambda n: " ".join(rng.choice(TOPIC_WORDS[label] + FILLER) for _ in range(n))  # noqa: E731
            writer.writerow([label + 1, words(rng.randint(2, 6)).title(), words(rng.randint(3, 20))])


@pytest.fixture(scope="session")
def ag_news_dir(tmp_path_factory):
    """A synthetic AG News folder: offline_train.csv (400 rows) and offline_test.csv (80 rows)."""
    folder = tmp_path_factory.mktemp("ag_news")
    write_ag_news_csv(folder / "offline_train.csv", 400, seed=1)
    write_ag_news_csv(folder / "offline_test.csv", 80, seed=2)
    return folder


def start_cli(*args, env=None):
    """Starts `python -m experiments.agnews ARGS` from the repository root; returns the Popen."""
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.agnews", *map(str, args)],
        cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def run_cli(*args, env=None, timeout=600):
    """Runs `python -m experiments.agnews ARGS` to the end; returns (returncode, stdout, stderr)."""
    process = start_cli(*args, env=env)
    stdout, stderr = process.communicate(timeout=timeout)
    return process.returncode, stdout, stderr
