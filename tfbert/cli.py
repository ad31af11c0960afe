"""The command-line options every experiment shares, defined once.

    parser = argparse.ArgumentParser(...)
    cli.add_data_options(parser, "AG News CSVs", ag_news.DATA_DIR_VARIABLE)
    cli.add_encoder_options(parser, max_length=128)
    cli.add_run_options(parser, out="runs/agnews", batch_size=32)

An option that every training run must honour is added in `add_run_options` and read by `train.Trainer`
(through `compute(args)`).
"""
import argparse
import tempfile
from pathlib import Path

from tfbert import distribute, encoders, errors, train


def positive_int(text: str) -> int:
    """An argparse type: a whole number above 0 (a batch size, a count of epochs, steps or examples)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number above 0, got {text!r}")
    return value


def add_data_options(parser: argparse.ArgumentParser, what: str, variable: str, skip_bad_rows=True):
    parser.add_argument("--data-dir", help=f"folder of {what} (default: ${variable}, else online)")
    parser.add_argument("--offline", action="store_true", help="never use the network; needs --data-dir")
    if skip_bad_rows:
        parser.add_argument("--skip-bad-rows", action="store_true",
                            help="skip malformed rows (counted in metrics.json) instead of stopping")


def load_data(name: str, load, args, **options):
    """`load(args.data_dir, ...)` (a `tfbert.data` loader) with --offline and --skip-bad-rows; prints what it read.
    A bad row (with the --skip-bad-rows hint), a missing folder or no network is a `UserError`."""
    from tfbert.data import BadRowError, OfflineError

    try:
        data = load(args.data_dir, offline=args.offline, skip_bad_rows=args.skip_bad_rows, **options)
    except (ValueError, OfflineError, FileNotFoundError) as e:
        hint = "\n(--skip-bad-rows skips such rows and counts them in metrics.json)" if isinstance(e, BadRowError) else ""
        raise errors.UserError(f"{e}{hint}") from None
    print(f"{name} from {data.source}: {data.sizes()}")
    if data.skipped:
        print(f"skipped {len(data.skipped)} bad rows, first: {data.skipped.errors[0]}")
    return data


def check_encoders(recipes):
    """`classify.check`: an encoder that cannot be had from here is a `UserError` before any work."""
    from tfbert import classify
    from tfbert.data import OfflineError

    try:
        classify.check(recipes)
    except (ValueError, OfflineError, FileNotFoundError) as e:
        raise errors.UserError(str(e)) from None


def add_encoder_options(parser, max_length: int):
    """--encoder, --max-length (default None: the recipe's, `max_length` in the help), --backend (Keras 3) and
    --hub-cache."""
    parser.add_argument("--encoder", help=f"pretrained encoder: {', '.join(encoders.PRESETS)}, "
                        "or a local HF BERT folder (default: minilm_l6, offline)")
    parser.add_argument("--max-length", type=positive_int,
                        help=f"WordPiece tokens per text, [CLS] and [SEP] included (default: {max_length})")
    parser.add_argument("--backend", choices=("tensorflow", "jax"),
                        help="the kerashub variants' Keras 3 backend (default: tensorflow); each kerashub run trains "
                        "in a process of its own")
    parser.add_argument("--hub-cache", type=Path, help="where TF-Hub exports are kept (default: $TFBERT_CACHE, "
                        "else ~/.cache/tfbert)")


def add_run_options(parser, out: str, batch_size: int):
    parser.add_argument("--batch-size", type=positive_int, default=batch_size,
                        help=f"batch size per replica (default: {batch_size})")
    parser.add_argument("--seed", type=int, default=0, help="seeds weights, dropout and data order (default: 0)")
    parser.add_argument("--strategy", choices=distribute.STRATEGIES, default="auto",
                        help="tf.distribute strategy (default: auto = TPU, else GPUs, else CPU)")
    group = parser.add_argument_group("accelerators (see README, Hardware)")
    group.add_argument("--precision", choices=train.PRECISIONS, default="float32",
                       help="Keras precision policy (default: float32; GPUs: mixed_float16; TPUs and CPUs with bf16 "
                       "units: mixed_bfloat16)")
    group.add_argument("--jit-compile", action="store_true",
                       help="compile the steps with XLA; turns on static shapes (always on under a TPU)")
    group.add_argument("--steps-per-execution", type=positive_int, default=1, metavar="N",
                       help="training steps per call of the compiled step (default: 1)")
    group.add_argument("--pad-multiple", type=positive_int, default=16, metavar="N",
                       help="static shapes: pad batches to a multiple of N tokens (default: 16)")
    parser.add_argument("--out", type=Path, default=Path(out), help=f"results folder (default: {out})")
    parser.add_argument("--overwrite", action="store_true",
                        help="train again where the results folder holds a finished or another run (default: refuse)")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1, help="Keras progress output (default: 1)")
    errors.add_debug_option(parser)


def output_folder(path: Path, option="--out") -> Path:
    """`path` ready to hold results (created if missing), checked before any work is done: a file there, or a place
    that cannot be written, is a `UserError` naming it."""
    if path.exists() and not path.is_dir():
        raise errors.UserError(f"{option} {path} is a file, not a folder: pass a folder (it is created if missing)")
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as e:
        raise errors.UserError(f"{option} {path}: cannot write there ({e.strerror}): pass a folder you can write to")
    return path


def compute(args) -> train.Compute:
    """The accelerator options of `add_run_options` as a `train.Compute`; bad values exit with one line."""
    try:
        return train.Compute(args.precision, args.jit_compile, args.steps_per_execution, args.pad_multiple)
    except ValueError as e:
        raise SystemExit(f"error: {e}")


def strategy(args):
    """The `--strategy` asked for (call it before other TF work); one that cannot be set up exits with one line."""
    try:
        return distribute.get_strategy(args.strategy)
    except distribute.StrategyError as e:
        raise SystemExit(f"error: {e}")
