"""Kant's books as the KantaiBERT corpus: one example per non-empty line, as in the book.

The lines of the `kant_*.txt` files, in sorted name order, stripped, empty ones dropped; every 20th
line (global index % 20 == 0) is held out for evaluation. On the seven books of ../shared/data/kant
that is 50,357 training and 2,651 held-out lines (787 batches of 64 per epoch).
"""
import os
from pathlib import Path

from tfbert.data.rows import read_lines

DATA_DIR_VARIABLE = "TFBERT_KANT_DIR"
HELD_OUT_EVERY = 20


def corpus_files(data_dir) -> list[Path]:
    files = sorted(Path(data_dir).glob("kant_*.txt"))
    if not files:
        raise FileNotFoundError(f"no kant_*.txt files in {data_dir} (pass --data-dir or ${DATA_DIR_VARIABLE})")
    return files


def read_corpus(data_dir=None) -> tuple[list[str], list[str]]:
    """(train lines, held-out lines) from `data_dir`, else `$TFBERT_KANT_DIR`."""
    data_dir = data_dir or os.environ.get(DATA_DIR_VARIABLE)
    if not data_dir:
        raise FileNotFoundError(f"no Kant folder: pass --data-dir or ${DATA_DIR_VARIABLE} (e.g. ../shared/data/kant)")
    lines = [line.strip() for path in corpus_files(data_dir) for line in read_lines(path) if line.strip()]
    train = [line for i, line in enumerate(lines) if i % HELD_OUT_EVERY]
    held_out = [line for i, line in enumerate(lines) if i % HELD_OUT_EVERY == 0]
    return train, held_out
