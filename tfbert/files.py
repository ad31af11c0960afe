"""Files that survive a kill: atomic writes (a temporary name, then one rename), JSON, sha256, figures, the cache,
frozen features.

    with files.atomic(run_dir / "model.keras") as tmp:
        model.save(tmp)
    files.write_json(run_dir / "metrics.json", metrics)
"""
import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np

CACHE_VARIABLE = "TFBERT_CACHE"
TEMPORARY = ".tmp-"  # prefix of what `atomic` writes before its rename


@contextlib.contextmanager
def atomic(path):
    """Yields a temporary path beside `path` (same suffix); if the block succeeds, it becomes `path` in one rename.

        with files.atomic(run_dir / "model.keras") as tmp:
            model.save(tmp)

    Works for files and for folders (a SavedModel): an old folder is moved aside first, then removed.
    If the block fails, the temporary is removed and `path` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TEMPORARY}{os.getpid()}-{path.name}")
    remove(tmp)
    try:
        yield tmp
        if tmp.is_dir() and path.is_dir():
            old = path.with_name(f"{TEMPORARY}{os.getpid()}-old-{path.name}")
            path.rename(old)
            tmp.rename(path)
            shutil.rmtree(old)
        else:
            tmp.replace(path)
    finally:
        remove(tmp)


def remove(path: Path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def write_text(path, text: str):
    with atomic(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path, value):
    write_text(path, json.dumps(value, indent=2, default=jsonable) + "\n")


def save_figure(fig, path):
    """Saves a matplotlib figure to `path` (its suffix says the format) and closes it."""
    import matplotlib.pyplot as plt

    with atomic(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def read_json(path, default=None):
    path = Path(path)
    if not path.exists():
        if default is not None:
            return default
        raise FileNotFoundError(f"{path} does not exist")
    return json.loads(path.read_text())


def jsonable(value):
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def cache_dir() -> Path:
    """Where downloads and exports are kept between runs: `$TFBERT_CACHE`, else ~/.cache/tfbert."""
    return Path(os.environ.get(CACHE_VARIABLE) or Path.home() / ".cache" / "tfbert")


def sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_features(path, features: dict, train_seconds: float):
    """A frozen encoder's {split: (N, H)} features, and the seconds the training split took, in one .npz."""
    with atomic(path) as tmp:
        np.savez(tmp, **features, train_seconds=train_seconds)


def read_features(path, counts: dict) -> tuple[dict, float] | None:
    """What `write_features` saved in `path`, with `counts` ({split: N}) rows; or None (with a notice) if the file is
    damaged or for other data."""
    try:
        with np.load(path) as saved:
            features = {name: saved[name] for name in counts}
            train_seconds = float(saved["train_seconds"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        print(f"notice: {path} is damaged ({type(e).__name__}: {e}); computing the features again", file=sys.stderr)
        return None
    for name, array in features.items():
        if len(array) != counts[name]:
            print(f"notice: {path} holds {len(array)} {name} features, not {counts[name]}; computing them again",
                  file=sys.stderr)
            return None
    return features, train_seconds
