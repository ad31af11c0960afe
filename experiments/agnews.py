"""AG News topic classification (World / Sports / Business / Sci/Tech): from scratch vs pretrained BERT.

Variants:
    scratch       a small Transformer trained from scratch (the keras-io model, from tfbert's
                  `TokenAndPositionEmbedding` and `TransformerBlock`)
    hub_frozen    TF-Hub preprocessing + encoder (`hub.KerasLayer`, trainable=False): a feature extractor
    hub_finetune  the same, trainable=True, AdamW + linear warmup/decay
    hf_frozen     HF `TFBertForSequenceClassification` with its `bert` layer frozen
    hf_finetune   the same, every weight trained
The pretrained encoder is all-MiniLM-L6-v2 (offline, `--encoder minilm_l6`); the hub variants load it as
a TF-Hub pair exported from its HF weights (cached, see tfbert/hub_export.py).

Run it:
    python -m experiments.agnews --data-dir ../shared/data/ag_news    # offline: the 6,080 / 1,520 re-split
    python -m experiments.agnews --full ...                           # the benchmark settings (hours on a CPU)

The defaults fit in 15 minutes on a 2-core CPU (10.5 and 12.5 min measured, BENCHMARKS.md) by training
the BERT variants on 2,000 of the 5,472 training texts, fine-tuning for 1 epoch; `--full` trains on all
of them, fine-tuning for 4 epochs.
Validation and test sets are always complete. BENCHMARKS.md has the numbers of both.
Each run keeps the epoch with the best accuracy on 10 % of the training texts held out; with
`--validation-fraction 0` it trains on all of them and keeps the last epoch (the PyTorch peer's protocol).
Results go to --out (default runs/agnews): one directory per variant, results.md and accuracy.png.
Starting the same command again after a kill resumes each unfinished run from its last epoch; a finished
run is not trained again, and a directory holding another run is refused (`--overwrite` replaces it).
"""
import argparse
import dataclasses
import functools
import sys
from pathlib import Path

import numpy as np

from tfbert import distribute, encoders, evaluate, finetune, optim, report, runs, serving, train
from tfbert.data import BadRowError, OfflineError, ag_news, pipeline
from tfbert.keras import keras
from tfbert.models import scratch

VARIANTS = ("scratch", "hub_frozen", "hub_finetune", "hf_frozen", "hf_finetune")
QUICK = {"bert_train_examples": 2000, "finetune_epochs": 1}  # the defaults' trade: fits in 15 minutes on 2 cores
FULL = {"bert_train_examples": None, "finetune_epochs": 4}  # --full: the benchmark settings


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m experiments.agnews", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS),
                        help="which models to train (default: all)")
    parser.add_argument("--data-dir", help=f"folder of AG News CSVs (default: ${ag_news.DATA_DIR_VARIABLE}, else tfds)")
    parser.add_argument("--offline", action="store_true", help="never use the network; needs --data-dir")
    parser.add_argument("--skip-bad-rows", action="store_true",
                        help="skip malformed CSV rows (counted in metrics.json) instead of stopping")
    parser.add_argument("--validation-fraction", type=float, default=0.1,
                        help="training texts held out to pick the best epoch (default: 0.1); 0 trains on all of "
                        "them and keeps the last epoch, as the PyTorch peer does")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size per replica (default: 32)")
    parser.add_argument("--patience", type=int, default=None,
                        help="stop after this many epochs without better validation accuracy (default: never)")
    group = parser.add_argument_group("scratch")
    group.add_argument("--epochs", type=int, default=15, help="most epochs (default: 15)")
    group.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default: 1e-3)")
    group.add_argument("--weight-decay", type=float, default=0.1, help="AdamW weight decay (default: 0.1)")
    group.add_argument("--preset", choices=sorted(scratch.PRESETS), default="regularized",
                       help="the model's sizes and dropouts (default: regularized)")
    group = parser.add_argument_group("pretrained BERT (hub_* and hf_*)")
    group.add_argument("--full", action="store_true",
                       help="benchmark settings: all training texts, 4 fine-tuning epochs "
                       "(default: 2,000 texts, 1 epoch)")
    group.add_argument("--encoder", default="minilm_l6", help=f"pretrained encoder: {', '.join(encoders.PRESETS)}, "
                       "or a local HF BERT folder (default: minilm_l6, offline)")
    group.add_argument("--pooling", choices=("mean", "pooled"),
                       help="hub variants: masked mean of sequence_output, or pooled_output (default: mean when "
                       "frozen, pooled when fine-tuned)")
    group.add_argument("--bert-train-examples", type=int, help="train on the first N training texts")
    group.add_argument("--finetune-epochs", type=int, help="fine-tuning epochs")
    group.add_argument("--finetune-lr", type=float, default=5e-5, help="fine-tuning peak learning rate (default: 5e-5)")
    group.add_argument("--adam-epsilon", type=float, default=finetune.BertRecipe.adam_epsilon,
                       help="Adam epsilon, in Keras' form: see tfbert/optim.py (default: %(default)g)")
    group.add_argument("--head-epochs", type=int, default=30,
                       help="frozen variants: epochs of the head on cached features (default: 30)")
    group.add_argument("--head-lr", type=float, default=1e-3, help="frozen variants: learning rate (default: 1e-3)")
    group.add_argument("--max-length", type=int, default=128, help="WordPiece tokens per text (default: 128)")
    group.add_argument("--buckets", action=argparse.BooleanOptionalAction, default=True,
                       help="fine-tuning batches of similar lengths (default: on)")
    group.add_argument("--hub-cache", type=Path, help="where TF-Hub exports are kept (default: $TFBERT_CACHE, "
                       "else ~/.cache/tfbert)")
    parser.add_argument("--seed", type=int, default=0, help="seeds weights, dropout and data order (default: 0)")
    parser.add_argument("--strategy", choices=distribute.STRATEGIES, default="auto",
                        help="tf.distribute strategy (default: auto = TPU, else GPUs, else CPU)")
    parser.add_argument("--out", type=Path, default=Path("runs/agnews"), help="results folder (default: runs/agnews)")
    parser.add_argument("--overwrite", action="store_true",
                        help="train again into run directories that hold a finished or another run (default: refuse)")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1, help="Keras progress output")
    args = parser.parse_args(argv)
    if not 0 <= args.validation_fraction < 1:
        parser.error(f"--validation-fraction must be in [0, 1), got {args.validation_fraction}")
    for name, value in (FULL if args.full else QUICK).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def scratch_config(args, data) -> scratch.ScratchConfig:
    return dataclasses.replace(scratch.PRESETS[args.preset], seed=args.seed, num_classes=len(data.class_names))


def scratch_identity(args, data, strategy) -> dict:
    """The settings that define a scratch run (run.json): a run directory holds one run of these."""
    return {"experiment": "agnews", "variant": "scratch", "model": scratch_config(args, data), "epochs": args.epochs,
            "lr": args.lr, "weight_decay": args.weight_decay, "patience": args.patience,
            "global_batch_size": args.batch_size * strategy.num_replicas_in_sync, "data": data.fingerprint()}


def run_scratch(args, data, strategy, run_dir: Path) -> dict:
    """Trains the from-scratch Transformer; writes config, history, metrics and predictions to `run_dir`."""
    config = scratch_config(args, data)
    train.set_seed(args.seed)
    vectorizer = scratch.build_vectorizer(config, data.train.texts)  # the vocabulary comes from train only
    train_ids, test_ids = (scratch.encode(vectorizer, s.texts, config) for s in (data.train, data.test))
    batch_size = args.batch_size * strategy.num_replicas_in_sync
    validation, monitor = None, train.KEEP_LAST  # --validation-fraction 0
    if len(data.validation):
        val_ids = scratch.encode(vectorizer, data.validation.texts, config)
        validation, monitor = pipeline.eval_batches(val_ids, data.validation.labels, batch_size), "val_accuracy"
    steps_per_epoch = optim.train_steps(len(data.train), batch_size, epochs=1)
    with strategy.scope():
        model = scratch.build_classifier(config)
        optimizer = optim.create_adamw(args.lr, steps_per_epoch * args.epochs, warmup_steps=steps_per_epoch // 2,
                                       weight_decay=args.weight_decay)
        model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        step = optimizer.iterations  # created here, under the strategy; the data pipeline reads it
    runs.write_json(run_dir / runs.CONFIG, {
        "variant": "scratch", "model_name": f"scratch Transformer ({args.preset})", "encoder": "none", "model": config,
        "args": vars(args), "data": {"source": data.source, **data.sizes()}, "class_names": data.class_names,
        "strategy": type(strategy).__name__, "replicas": strategy.num_replicas_in_sync, "global_batch_size": batch_size,
    })
    runs.write_text(run_dir / "vocab.txt", "\n".join(vectorizer.get_vocabulary()) + "\n")

    epoch = lambda: step // steps_per_epoch  # noqa: E731  (read when each epoch starts, so resumes see the same order)
    train_batches = pipeline.train_batches(train_ids, data.train.labels, batch_size, args.seed, epoch)
    per_epoch = {"examples": len(data.train)}
    history = train.fit(model, train_batches, validation, run_dir, args.epochs, monitor=monitor, patience=args.patience,
                        per_epoch=per_epoch, verbose=args.verbose)
    with runs.atomic(run_dir / "model.keras") as tmp:
        model.save(tmp)
    serving.to_tflite(model, run_dir / "model.tflite", config.max_length)  # ids in: vocab.txt is its tokenizer
    serving.export(model, run_dir / "saved_model", data.class_names, resources=[vectorizer],
                   tokenize=lambda text: scratch.encode(vectorizer, text, config).to_tensor())
    probabilities = evaluate.predict_proba(model, pipeline.eval_batches(test_ids, data.test.labels, batch_size))
    return evaluate.write_test_results(
        run_dir, data.test, probabilities, data.class_names, **evaluate.parameter_counts(model),
        **train.summary(history, per_epoch, monitor),
        skipped_rows=data.skipped.summary(),
    )


def hub_pooling(args, trainable: bool) -> str:
    """--pooling, else the better head of each hub variant on AG News (BENCHMARKS.md): frozen, the mean of the
    token vectors (0.883 vs 0.835 with pooled_output); fine-tuned, pooled_output (0.900 vs 0.895)."""
    return args.pooling or ("pooled" if trainable else "mean")


def bert_recipe(args, variant: str) -> finetune.BertRecipe:
    """The recipe of one pretrained-BERT variant (hub_frozen, hf_finetune, ...)."""
    family, how = variant.split("_")
    trainable = how == "finetune"
    return finetune.BertRecipe(
        family, trainable, encoder=args.encoder, pooling=hub_pooling(args, trainable), batch_size=args.batch_size,
        epochs=args.finetune_epochs if trainable else args.head_epochs,
        lr=args.finetune_lr if trainable else args.head_lr, weight_decay=0.01 if trainable else 0.0,
        adam_epsilon=args.adam_epsilon,
        max_length=args.max_length, buckets=args.buckets, seed=args.seed)


def bert_data(args, data):
    """`data` with the first --bert-train-examples training texts only."""
    if args.bert_train_examples and args.bert_train_examples < len(data.train):
        return dataclasses.replace(data, train=data.train.take(np.arange(args.bert_train_examples)))
    return data


def bert_identity(args, data, strategy, variant: str) -> dict:
    return finetune.identity(bert_recipe(args, variant), bert_data(args, data), strategy, experiment="agnews",
                             patience=args.patience)


def run_bert(args, data, strategy, run_dir: Path) -> dict:
    """Trains one pretrained-BERT variant (`run_dir`'s name: hub_frozen, hf_finetune, ...)."""
    return finetune.run(bert_recipe(args, run_dir.name), bert_data(args, data), strategy, run_dir,
                        patience=args.patience, verbose=args.verbose, cache=args.hub_cache, config={"args": vars(args)})


def identity(args, data, strategy, variant: str) -> dict:
    return scratch_identity(args, data, strategy) if variant == "scratch" else bert_identity(args, data, strategy, variant)


RUNNERS = {"scratch": run_scratch, **{variant: run_bert for variant in VARIANTS[1:]}}


def main(argv=None):
    args = parse_args(argv)
    strategy = distribute.get_strategy(args.strategy)  # first: multi-worker setup must precede other TF work
    families = {variant.split("_")[0] for variant in args.variants} - {"scratch"}
    try:
        if families:
            encoders.check(args.encoder, families)
    except (ValueError, OfflineError) as e:
        sys.exit(f"error: {e}")
    try:
        data = ag_news.load(args.data_dir, offline=args.offline, validation_fraction=args.validation_fraction,
                            skip_bad_rows=args.skip_bad_rows)
    except (OfflineError, FileNotFoundError) as e:
        sys.exit(f"error: {e}")
    except BadRowError as e:
        sys.exit(f"error: {e}\n(--skip-bad-rows skips such rows and counts them in metrics.json)")
    print(f"AG News from {data.source}: {data.sizes()}")
    if data.skipped:
        print(f"skipped {len(data.skipped)} bad rows, first: {data.skipped.errors[0]}")
    plans = {args.out / variant: (identity(args, data, strategy, variant),
                                  functools.partial(RUNNERS[variant], args, data, strategy, args.out / variant))
             for variant in args.variants}
    try:
        runs.run_all(plans, args.overwrite)
    except (runs.RunConflict, runs.RunLocked) as e:
        sys.exit(f"error: {e}")
    if distribute.is_chief(strategy):
        print("\n" + report.render(args.out))
        print(f"\nresults, plots and per-run files: {args.out}/")


if __name__ == "__main__":
    main()
