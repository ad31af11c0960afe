"""AG News topic classification: 4 classes, text = title + " " + description, labels 0-3.

Sources, in order:
1. a local folder in the original `ag_news_csv` format (`data_dir`, else `$TFBERT_DATA_DIR`), holding
   `train.csv` + `test.csv`, or the offline re-split `offline_train.csv` + `offline_test.csv`;
2. otherwise, online, `tfds.load("ag_news_subset")` (120,000 / 7,600 rows).
A run with a local folder never touches the network.
"""
from pathlib import Path

import numpy as np

from tfbert.data.online import local_folder, require_network
from tfbert.data.rows import SkippedRows, read_rows
from tfbert.data.splits import Split, TextClassificationData, carve_validation

CLASS_NAMES = ("World", "Sports", "Business", "Sci/Tech")
DATA_DIR_VARIABLE = "TFBERT_DATA_DIR"
SPLIT_FILES = (("train.csv", "test.csv"), ("offline_train.csv", "offline_test.csv"))
HOW_TO_RUN_OFFLINE = (
    f"Pass a folder of AG News CSVs with --data-dir or {DATA_DIR_VARIABLE} "
    "(for example ../shared/data/ag_news)."
)


def parse_row(fields: list) -> tuple[str, int]:
    """One `ag_news_csv` row (class index 1-4, title, description) -> (text, label 0-3)."""
    if len(fields) != 3:
        raise ValueError(f"expected 3 columns (class index, title, description), found {len(fields)}")
    index, title, description = fields
    if not index.strip().isdigit() or not 1 <= int(index) <= 4:
        raise ValueError(f"class index {index!r} is not one of 1, 2, 3, 4")
    text = f"{title} {description}"
    if not text.strip():
        raise ValueError("empty text (title and description are both blank)")
    return text, int(index) - 1


def read_csv(path, skip_bad_rows=False, skipped=None) -> Split:
    rows = read_rows(path, parse_row, skip_bad_rows=skip_bad_rows, skipped=skipped)
    return Split([text for text, _ in rows], [label for _, label in rows])


def split_files(data_dir) -> tuple[Path, Path]:
    """The (train, test) CSVs in `data_dir`: `train.csv`/`test.csv` first, else the offline pair."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"AG News folder {data_dir} does not exist")
    for train_name, test_name in SPLIT_FILES:
        if (data_dir / train_name).is_file() and (data_dir / test_name).is_file():
            return data_dir / train_name, data_dir / test_name
    expected = " or ".join(" + ".join(pair) for pair in SPLIT_FILES)
    raise FileNotFoundError(f"no AG News CSVs in {data_dir}: expected {expected}")


def load_local(data_dir, validation_fraction=0.1, skip_bad_rows=False) -> TextClassificationData:
    train_path, test_path = split_files(data_dir)
    skipped = SkippedRows()
    train = read_csv(train_path, skip_bad_rows, skipped)
    test = read_csv(test_path, skip_bad_rows, skipped)
    train, validation = carve_validation(train, validation_fraction)
    return TextClassificationData(train, validation, test, CLASS_NAMES, str(train_path.parent), skipped)


def load_tfds(validation_fraction=0.1) -> TextClassificationData:
    """The full 120,000 / 7,600 split from TensorFlow Datasets (downloads once, needs the network)."""
    require_network("Downloading AG News with tfds", HOW_TO_RUN_OFFLINE)
    import tensorflow_datasets as tfds

    def to_split(ds):
        rows = list(tfds.as_numpy(ds))
        texts = [f"{r['title'].decode()} {r['description'].decode()}" for r in rows]
        return Split(texts, np.array([r["label"] for r in rows]))

    train, test = tfds.load("ag_news_subset", split=["train", "test"])
    train, validation = carve_validation(to_split(train), validation_fraction)
    return TextClassificationData(train, validation, to_split(test), CLASS_NAMES, "tfds:ag_news_subset")


def load(data_dir=None, offline=False, validation_fraction=0.1, skip_bad_rows=False) -> TextClassificationData:
    """AG News from `data_dir` (or `$TFBERT_DATA_DIR`), else from tfds unless `offline`."""
    data_dir = local_folder(data_dir, DATA_DIR_VARIABLE, offline, HOW_TO_RUN_OFFLINE)
    if data_dir:
        return load_local(data_dir, validation_fraction, skip_bad_rows)
    return load_tfds(validation_fraction)
