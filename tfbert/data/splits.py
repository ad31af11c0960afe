"""In-memory labelled text splits, and the validation split carved from train."""
import dataclasses
import hashlib

import numpy as np

from tfbert.data.rows import SkippedRows


@dataclasses.dataclass
class Split:
    texts: list  # N strings
    labels: np.ndarray  # (N,) int32, 0 .. num_classes - 1

    def __post_init__(self):
        self.labels = np.asarray(self.labels, dtype=np.int32)
        if len(self.texts) != len(self.labels):
            raise ValueError(f"{len(self.texts)} texts but {len(self.labels)} labels")

    def __len__(self):
        return len(self.texts)

    def take(self, indices):
        return Split([self.texts[i] for i in indices], self.labels[indices])


@dataclasses.dataclass
class TextClassificationData:
    """Train / validation / test splits of one task, and where they came from."""

    train: Split
    validation: Split
    test: Split
    class_names: tuple
    source: str  # a folder or a tfds name, for config.json
    skipped: SkippedRows = dataclasses.field(default_factory=SkippedRows)
    test_name: str = "test"  # what the test split is called in reports (CoLA: "in_domain_dev")
    more_tests: dict = dataclasses.field(default_factory=dict)  # other scored sets, name -> Split

    def fingerprint(self) -> str:
        """Of every split's texts and labels: two runs with equal fingerprints saw the same data."""
        splits = {"train": self.train, "validation": self.validation, "test": self.test, **self.more_tests}
        parts = [part for split in splits.values() for part in (split.texts, split.labels)]
        return fingerprint(self.class_names, *parts)

    def scored_splits(self) -> dict:
        """Every split by name: train, validation (unless empty), test and the extra scored sets."""
        validation = {"validation": self.validation} if len(self.validation) else {}
        return {"train": self.train, **validation, "test": self.test, **self.more_tests}

    def class_counts(self) -> list[int]:
        """Training examples per class."""
        return np.bincount(self.train.labels, minlength=len(self.class_names)).tolist()

    def describe(self) -> dict:
        """config.json's account of the data: where it came from and the split sizes."""
        return {"source": self.source, **self.sizes()}

    def sizes(self):
        return {"train": len(self.train), "validation": len(self.validation), self.test_name: len(self.test),
                **{name: len(split) for name, split in self.more_tests.items()}}


def carve_validation(train: Split, fraction: float, seed: int = 0) -> tuple[Split, Split]:
    """Splits `train` into (train, validation) with a fixed seed, independent of the training seed.

    The validation part is what model selection and early stopping look at; the test set is only
    evaluated once, at the end. `fraction` 0 keeps every text for training (an empty validation split).
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"validation fraction must be in [0, 1), got {fraction}")
    order = np.random.default_rng(seed).permutation(len(train))
    n_val = max(1, round(fraction * len(train))) if fraction else 0
    if n_val >= len(train):
        raise ValueError(f"validation fraction {fraction} of {len(train)} training texts leaves none to train on")
    return train.take(np.sort(order[n_val:])), train.take(np.sort(order[:n_val]))


def fingerprint(*parts) -> str:
    """The first 16 hex digits of a sha256 over lists of strings and integer arrays, each part's length included."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(f"{len(part)}:".encode())
        if isinstance(part, np.ndarray):
            digest.update(part.astype(np.int64).tobytes())
        else:
            digest.update("\x1f".join(map(str, part)).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:16]
