"""A run directory: config.json, history.json, metrics.json, predictions.csv, plots, checkpoints.

Everything a report shows is read back from these files, so a table or a plot can be redrawn
without training again.
"""
import dataclasses
import json
from pathlib import Path

CONFIG, HISTORY, METRICS, PREDICTIONS = "config.json", "history.json", "metrics.json", "predictions.csv"
BEST_WEIGHTS = "best/weights"  # a TF checkpoint prefix (h5 weights do not reload under MirroredStrategy)


def write_json(path, value):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(value, indent=2, default=_jsonable) + "\n")
    tmp.replace(path)  # atomic: a run killed while writing leaves the previous file whole


def read_json(path, default=None):
    path = Path(path)
    if not path.exists():
        if default is not None:
            return default
        raise FileNotFoundError(f"{path} does not exist")
    return json.loads(path.read_text())


def _jsonable(value):
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
