"""CoLA v1.1 (Corpus of Linguistic Acceptability): is an English sentence acceptable (1) or not (0)?

The raw release: tab-separated, no header, four columns (source, label, the author's annotation, sentence).
Training uses `in_domain_train.tsv` (8,551 rows) with a fixed 10 % carved off for validation; the scores
are on `in_domain_dev.tsv` (527, the GLUE dev set, the "test" split here) and `out_of_domain_dev.tsv`
(516, the set the book reports). Quirks of the release that are accepted as they are: a file without a
final newline, an annotation field holding one space, a label-0 row without annotation.

    data = cola.load("../shared/data/cola")           # offline
    data = cola.load(None)                             # online: tfds glue/cola (train / validation only)
"""
import csv
from pathlib import Path

import numpy as np

from tfbert.data.online import local_folder, require_network
from tfbert.data.rows import SkippedRows, read_rows
from tfbert.data.splits import Split, TextClassificationData, carve_validation

CLASS_NAMES = ("unacceptable", "acceptable")
FILES = {"train": "in_domain_train.tsv", "in_domain_dev": "in_domain_dev.tsv",
         "out_of_domain_dev": "out_of_domain_dev.tsv"}
DATA_DIR_VARIABLE = "TFBERT_COLA_DIR"
HOW_TO_RUN_OFFLINE = f"Pass the raw CoLA folder with --data-dir or {DATA_DIR_VARIABLE} (for example ../shared/data/cola)."


def parse_row(fields: list) -> tuple[str, int]:
    """(source, label, annotation, sentence) -> (sentence, label)."""
    if len(fields) != 4:
        raise ValueError(f"expected 4 tab-separated columns (source, label, annotation, sentence), found {len(fields)}")
    _, label, _, sentence = fields
    if label not in ("0", "1"):
        raise ValueError(f"label {label!r} is not 0 or 1")
    if not sentence.strip():
        raise ValueError("empty sentence")
    return sentence, int(label)


def read_tsv(path, skip_bad_rows=False, skipped=None) -> Split:
    rows = read_rows(path, parse_row, delimiter="\t", quoting=csv.QUOTE_NONE, skip_bad_rows=skip_bad_rows,
                     skipped=skipped)
    return Split([sentence for sentence, _ in rows], [label for _, label in rows])


def load_local(data_dir, validation_fraction=0.1, skip_bad_rows=False) -> TextClassificationData:
    data_dir = Path(data_dir)
    missing = [name for name in FILES.values() if not (data_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(f"no CoLA files {', '.join(missing)} in {data_dir} (the raw cola_public_1.1 TSVs)")
    skipped = SkippedRows()
    splits = {key: read_tsv(data_dir / name, skip_bad_rows, skipped) for key, name in FILES.items()}
    train, validation = carve_validation(splits["train"], validation_fraction)
    return TextClassificationData(train, validation, splits["in_domain_dev"], CLASS_NAMES, str(data_dir), skipped,
                                  test_name="in_domain_dev", more_tests={"out_of_domain_dev": splits["out_of_domain_dev"]})


def load_tfds(validation_fraction=0.1) -> TextClassificationData:
    """GLUE's CoLA from TensorFlow Datasets: its validation split is in-domain dev (no out-of-domain set)."""
    require_network("Downloading CoLA with tfds", HOW_TO_RUN_OFFLINE)
    import tensorflow_datasets as tfds

    def to_split(ds):
        rows = list(tfds.as_numpy(ds))
        return Split([r["sentence"].decode() for r in rows], np.array([r["label"] for r in rows]))

    train, dev = tfds.load("glue/cola", split=["train", "validation"])
    train, validation = carve_validation(to_split(train), validation_fraction)
    return TextClassificationData(train, validation, to_split(dev), CLASS_NAMES, "tfds:glue/cola",
                                  test_name="in_domain_dev")


def load(data_dir=None, offline=False, validation_fraction=0.1, skip_bad_rows=False) -> TextClassificationData:
    """CoLA from `data_dir` (or `$TFBERT_COLA_DIR`), else from tfds unless `offline`."""
    data_dir = local_folder(data_dir, DATA_DIR_VARIABLE, offline, HOW_TO_RUN_OFFLINE)
    if data_dir:
        return load_local(data_dir, validation_fraction, skip_bad_rows)
    return load_tfds(validation_fraction)
