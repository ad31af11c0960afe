"""AG News topic classification (World / Sports / Business / Sci/Tech).

What it shows: a small Transformer trained from scratch (the keras-io model, built from tfbert's
`TokenAndPositionEmbedding` and `TransformerBlock`) on news headlines + descriptions, with a results
table (accuracy, parameters, time, examples/s), learning curves and a confusion matrix per variant.

Run it:
    python -m experiments.agnews --data-dir ../shared/data/ag_news    # offline: the 6,080 / 1,520 re-split
    python -m experiments.agnews                                      # online: tfds ag_news_subset (120k)

Numbers to expect on the offline split (2-core CPU, BENCHMARKS.md): scratch 0.859 ± 0.002 test accuracy over
3 seeds, about 3 s per epoch, 15 epochs.
Results go to --out (default runs/agnews): one directory per variant, results.md and accuracy.png.
Starting the same command again after a kill resumes each unfinished run from its last epoch.
"""
import argparse
import dataclasses
import sys
from pathlib import Path

from tfbert import distribute, evaluate, optim, report, runs, train
from tfbert.data import BadRowError, OfflineError, ag_news, pipeline
from tfbert.keras import keras
from tfbert.models import scratch

VARIANTS = ("scratch",)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m experiments.agnews", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS),
                        help="which models to train (default: all)")
    parser.add_argument("--data-dir", help=f"folder of AG News CSVs (default: ${ag_news.DATA_DIR_VARIABLE}, else tfds)")
    parser.add_argument("--offline", action="store_true", help="never use the network; needs --data-dir")
    parser.add_argument("--skip-bad-rows", action="store_true",
                        help="skip malformed CSV rows (counted in metrics.json) instead of stopping")
    parser.add_argument("--epochs", type=int, default=15, help="most epochs per variant (default: 15)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size per replica (default: 32)")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default: 1e-3)")
    parser.add_argument("--weight-decay", type=float, default=0.1, help="AdamW weight decay (default: 0.1)")
    parser.add_argument("--patience", type=int, default=None,
                        help="stop after this many epochs without better validation accuracy (default: never)")
    parser.add_argument("--preset", choices=sorted(scratch.PRESETS), default="regularized",
                        help="the from-scratch model's sizes and dropouts (default: regularized)")
    parser.add_argument("--seed", type=int, default=0, help="seeds weights, dropout and data order (default: 0)")
    parser.add_argument("--strategy", choices=distribute.STRATEGIES, default="auto",
                        help="tf.distribute strategy (default: auto = TPU, else GPUs, else CPU)")
    parser.add_argument("--out", type=Path, default=Path("runs/agnews"), help="results folder (default: runs/agnews)")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1, help="Keras progress output")
    return parser.parse_args(argv)


def run_scratch(args, data, strategy, run_dir: Path) -> dict:
    """Trains the from-scratch Transformer; writes config, history, metrics and predictions to `run_dir`."""
    config = dataclasses.replace(scratch.PRESETS[args.preset], seed=args.seed, num_classes=len(data.class_names))
    train.set_seed(args.seed)
    vectorizer = scratch.build_vectorizer(config, data.train.texts)  # the vocabulary comes from train only
    train_ids, val_ids, test_ids = (scratch.encode(vectorizer, s.texts, config)
                                    for s in (data.train, data.validation, data.test))
    batch_size = args.batch_size * strategy.num_replicas_in_sync
    steps_per_epoch = optim.train_steps(len(data.train), batch_size, epochs=1)
    with strategy.scope():
        model = scratch.build_classifier(config)
        optimizer = optim.create_adamw(args.lr, steps_per_epoch * args.epochs, warmup_steps=steps_per_epoch // 2,
                                       weight_decay=args.weight_decay)
        model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        step = optimizer.iterations  # created here, under the strategy; the data pipeline reads it
    runs.write_json(run_dir / runs.CONFIG, {
        "variant": "scratch", "model_name": f"scratch Transformer ({args.preset})", "model": config,
        "args": vars(args), "data": {"source": data.source, **data.sizes()}, "class_names": data.class_names,
        "strategy": type(strategy).__name__, "replicas": strategy.num_replicas_in_sync, "global_batch_size": batch_size,
    })
    (run_dir / "vocab.txt").write_text("\n".join(vectorizer.get_vocabulary()) + "\n", encoding="utf-8")

    epoch = lambda: step // steps_per_epoch  # noqa: E731  (read when each epoch starts, so resumes see the same order)
    train_batches = pipeline.train_batches(train_ids, data.train.labels, batch_size, args.seed, epoch)
    per_epoch = {"examples": len(data.train)}
    history = train.fit(model, train_batches, pipeline.eval_batches(val_ids, data.validation.labels, batch_size),
                        run_dir, args.epochs, patience=args.patience, per_epoch=per_epoch, verbose=args.verbose)
    model.save(run_dir / "model.keras")
    probabilities = evaluate.predict_proba(model, pipeline.eval_batches(test_ids, data.test.labels, batch_size))
    return evaluate.write_test_results(
        run_dir, data.test, probabilities, data.class_names, **evaluate.parameter_counts(model),
        **train.summary(history, per_epoch),
        skipped_rows=data.skipped.summary(),
    )


RUNNERS = {"scratch": run_scratch}


def main(argv=None):
    args = parse_args(argv)
    strategy = distribute.get_strategy(args.strategy)  # first: multi-worker setup must precede other TF work
    try:
        data = ag_news.load(args.data_dir, offline=args.offline, skip_bad_rows=args.skip_bad_rows)
    except (OfflineError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    except BadRowError as e:
        sys.exit(f"error: {e}\n(--skip-bad-rows skips such rows and counts them in metrics.json)")
    print(f"AG News from {data.source}: {data.sizes()}")
    if data.skipped:
        print(f"skipped {len(data.skipped)} bad rows, first: {data.skipped.errors[0]}")
    for variant in args.variants:
        print(f"\n=== {variant} ===")
        RUNNERS[variant](args, data, strategy, args.out / variant)
    if distribute.is_chief(strategy):
        print("\n" + report.render(args.out))
        print(f"\nresults, plots and per-run files: {args.out}/")


if __name__ == "__main__":
    main()
