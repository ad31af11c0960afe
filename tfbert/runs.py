"""A run directory: run.json, config.json, history.json, metrics.json, predictions.csv, plots, checkpoints.

Everything a report shows is read back from these files, so a table or a plot can be redrawn
without training again.

A run directory knows whose it is: `run.json` holds the settings that define the run (model, data,
recipe, seed, ...), written before anything else. Starting a run on a directory (`claim`):

| the directory holds | what happens |
|---|---|
| nothing | a new run |
| the same run, unfinished | it resumes (the backup and the history continue) |
| the same run, finished (`metrics.json`) | nothing is trained: `claim` says FINISHED |
| another run, or files that are not a run | `RunConflict` before anything is touched: what differs, the ways on |

`overwrite=True` empties the directory and starts again. While a run trains, its directory is locked
(`.lock`, a `flock` the kernel releases when the process ends, however it ends): a second process on
the same directory stops at once with `RunLocked`.

Every file is written through `files.atomic` (a temporary name beside it, then one rename), so a kill
leaves either the old file or the new one, never half of one.
"""
import contextlib
import dataclasses
import errno
import fcntl
import json
import os
from pathlib import Path

from tfbert import errors, files
from tfbert.files import TEMPORARY

IDENTITY, CONFIG, HISTORY, METRICS = "run.json", "config.json", "history.json", "metrics.json"
PREDICTIONS = "predictions.csv"
BACKUP = "backup"  # BackupAndRestore's folder: the state a resumed run starts from, removed when the run finishes
BEST, WEIGHTS = "best", "weights"  # a folder, and the TF checkpoint prefix in it (h5 does not reload under Mirrored)
BEST_WEIGHTS = f"{BEST}/{WEIGHTS}"
LOCK = ".lock"
NEW, RESUME, FINISHED = "new", "resume", "finished"


class RunConflict(Exception):
    """The directory holds another run (or files that are not a run); nothing was changed."""


class RunLocked(Exception):
    """Another process is using the run directory."""


# --- config.json --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class RunConfig:
    """config.json: what a run is, written when it starts; reports, `interpret`, `verdict` and tests read it back.

    Fields that a kind of run does not have stay at their defaults (a scratch run has no recipe).
    """
    experiment: str = ""  # agnews, cola, kantaibert
    variant: str = ""  # scratch, hub_frozen, hf_finetune, tuned, ... (KantaiBERT: its size)
    model_name: str = ""  # how tables name the model
    encoder: str = "none"  # the pretrained encoder's name or folder
    class_names: list = dataclasses.field(default_factory=list)
    recipe: dict | None = None  # classifier runs: `classify.Recipe`'s fields
    model: dict | None = None  # scratch and KantaiBERT runs: the model config's fields
    data: dict = dataclasses.field(default_factory=dict)  # source and split sizes
    class_counts: list = dataclasses.field(default_factory=list)  # training examples per class
    strategy: str = ""
    replicas: int = 1
    global_batch_size: int = 0
    compute: dict = dataclasses.field(default_factory=dict)  # `train.Compute`'s fields, static_shapes, dropped_per_epoch
    parameters: int | None = None  # KantaiBERT
    tokenizer_vocabulary: int | None = None  # KantaiBERT
    args: dict = dataclasses.field(default_factory=dict)  # the command line, as parsed


def write_config(run_dir, config: RunConfig):
    files.write_json(Path(run_dir) / CONFIG, config)


def read_config(run_dir) -> RunConfig:
    """The run's config.json; a file of another shape is a ValueError naming it."""
    path = Path(run_dir) / CONFIG
    values = files.read_json(path)
    fields = {field.name for field in dataclasses.fields(RunConfig)}
    if not isinstance(values, dict) or set(values) - fields:
        unknown = sorted(set(values) - fields) if isinstance(values, dict) else type(values).__name__
        raise ValueError(f"{path}: not a tfbert run config (unknown: {unknown})")
    return RunConfig(**values)


# --- locks --------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def lock(path, wait=False):
    """Holds an exclusive lock on the file `path` for the block (its parent folder is created).

    `wait=False` raises `RunLocked` at once if another process holds it. The kernel releases the lock
    when the holder ends, SIGKILL included, so a lock file left by a killed process blocks nobody.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise RunLocked(f"{path.parent} is in use by another process (pid {holder}): wait for it to end, "
                            "or give this one another directory") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


# --- run identity -------------------------------------------------------------------------------------------


def canonical(identity: dict) -> dict:
    """`identity` as it reads back from JSON (dataclasses as dicts, tuples as lists, paths as strings)."""
    return json.loads(json.dumps(identity, default=files.jsonable))


def flatten(value, prefix="") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}."""
    if not isinstance(value, dict):
        return {prefix: value}
    flat = {}
    for key, item in value.items():
        flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def differences(old: dict, new: dict, most=8) -> str:
    """"epochs 15 -> 2, model.embed_dim 32 -> 12": the settings that differ, at most `most` of them named."""
    old, new = flatten(old), flatten(new)
    missing = object()
    changed = [f"{key} {old.get(key, '(none)')} -> {new.get(key, '(none)')}"
               for key in sorted(set(old) | set(new)) if old.get(key, missing) != new.get(key, missing)]
    more = f", and {len(changed) - most} more" if len(changed) > most else ""
    return ", ".join(changed[:most]) + more


def status(run_dir, identity: dict) -> str:
    """NEW, RESUME or FINISHED for a run of `identity` in `run_dir`; `RunConflict` if the directory holds another.

    Reads only: nothing in `run_dir` is created or changed.
    """
    run_dir = Path(run_dir)
    contents = [p for p in run_dir.iterdir() if p.name != LOCK and not p.name.startswith(TEMPORARY)] \
        if run_dir.is_dir() else []
    if not contents:
        return NEW
    ways_on = "train it elsewhere (--out DIR) or replace it (--overwrite)"
    if not (run_dir / IDENTITY).is_file():
        raise RunConflict(f"{run_dir} holds files but no {IDENTITY} (not a run of this tfbert version, or not a run): "
                          f"{ways_on}")
    try:
        recorded = json.loads((run_dir / IDENTITY).read_text())["identity"]
    except (ValueError, KeyError, TypeError) as e:
        raise RunConflict(f"{run_dir / IDENTITY} is damaged ({type(e).__name__}: {e}): {ways_on}") from None
    new = canonical(identity)
    if recorded != new:
        raise RunConflict(f"{run_dir} holds another run ({differences(recorded, new)}): {ways_on}")
    return FINISHED if (run_dir / METRICS).is_file() else RESUME


@contextlib.contextmanager
def claim(run_dir, identity: dict, overwrite=False):
    """Locks `run_dir` for the block and yields its status (NEW, RESUME or FINISHED), ready for that.

    NEW (an empty directory, or anything with `overwrite`): the directory is emptied and `run.json`
    written. RESUME: leftovers of a killed process's atomic writes are removed. FINISHED: nothing changes.
    Raises `RunConflict` (another run is there, nothing touched) or `RunLocked` (another process has it).
    """
    run_dir = Path(run_dir)
    state = NEW if overwrite else status(run_dir, identity)  # before the lock: a refusal creates no file
    if state == FINISHED:
        yield state
        return
    with lock(run_dir / LOCK):
        state = NEW if overwrite else status(run_dir, identity)  # again: another process may have finished it
        for path in run_dir.iterdir():
            if path.name != LOCK and (state == NEW or path.name.startswith(TEMPORARY)):
                files.remove(path)
        if state == NEW:
            files.write_json(run_dir / IDENTITY, {"identity": canonical(identity)})
        yield state


def run_once(run_dir, identity: dict, train, overwrite=False) -> str:
    """Claims `run_dir` and calls `train()` unless the run has finished there; returns the status it found."""
    with claim(run_dir, identity, overwrite) as state:
        if state == FINISHED:
            print(f"{run_dir}: this run has finished already, not trained again (--overwrite trains it again)")
        else:
            if state == RESUME:
                print(f"{run_dir}: resuming the unfinished run found there")
            errors.progress(f"the same command {'resumes' if state == RESUME else 'starts'} {run_dir}")
            train()
            files.remove(Path(run_dir) / BACKUP)  # finished: nothing is left to resume
    return state


def run_all(plans: dict, overwrite=False):
    """`run_once` for each {run_dir: (identity, train)}, after checking them all: one refusal trains nothing."""
    if not overwrite:
        for run_dir, (identity, _) in plans.items():
            status(run_dir, identity)
    for run_dir, (identity, train) in plans.items():
        print(f"\n=== {Path(run_dir).name} ===")
        run_once(run_dir, identity, train, overwrite)
