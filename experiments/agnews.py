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

from tfbert import cli, distribute, encoders, errors, evaluate, finetune, report, runs, serving, train
from tfbert.data import BadRowError, OfflineError, ag_news, pipeline
from tfbert.keras import keras
from tfbert.models import scratch

# What each variant trains: the scratch Transformer, or a pretrained-BERT recipe (finetune.BertRecipe's fields;
# the rest, epochs and learning rates, comes from the command line: --finetune-* or --head-*).
VARIANTS = {
    "scratch": None,
    "hub_frozen": dict(family="hub", trainable=False, weight_decay=0.0),
    "hub_finetune": dict(family="hub", trainable=True, weight_decay=0.01),
    "hf_frozen": dict(family="hf", trainable=False, weight_decay=0.0),
    "hf_finetune": dict(family="hf", trainable=True, weight_decay=0.01),
}
QUICK = {"bert_train_examples": 2000, "finetune_epochs": 1}  # the defaults' trade: fits in 15 minutes on 2 cores
FULL = {"bert_train_examples": None, "finetune_epochs": 4}  # --full: the benchmark settings


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m experiments.agnews", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS),
                        help="which models to train (default: all)")
    cli.add_data_options(parser, "AG News CSVs", ag_news.DATA_DIR_VARIABLE)
    parser.add_argument("--validation-fraction", type=float, default=0.1,
                        help="training texts held out to pick the best epoch (default: 0.1); 0 trains on all of "
                        "them and keeps the last epoch, as the PyTorch peer does")
    parser.add_argument("--patience", type=cli.positive_int, default=None,
                        help="stop after this many epochs without better validation accuracy (default: never)")
    group = parser.add_argument_group("scratch")
    group.add_argument("--epochs", type=cli.positive_int, default=15, help="most epochs (default: 15)")
    group.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default: 1e-3)")
    group.add_argument("--weight-decay", type=float, default=0.1, help="AdamW weight decay (default: 0.1)")
    group.add_argument("--preset", choices=sorted(scratch.PRESETS), default="regularized",
                       help="the model's sizes and dropouts (default: regularized)")
    group = parser.add_argument_group("pretrained BERT (hub_* and hf_*)")
    group.add_argument("--full", action="store_true",
                       help="benchmark settings: all training texts, 4 fine-tuning epochs "
                       "(default: 2,000 texts, 1 epoch)")
    cli.add_encoder_options(group, max_length=128)
    group.add_argument("--pooling", choices=("mean", "pooled"),
                       help="hub variants: masked mean of sequence_output, or pooled_output (default: mean when "
                       "frozen, pooled when fine-tuned)")
    group.add_argument("--bert-train-examples", type=cli.positive_int, help="train on the first N training texts")
    group.add_argument("--finetune-epochs", type=cli.positive_int, help="fine-tuning epochs")
    group.add_argument("--finetune-lr", type=float, default=5e-5, help="fine-tuning peak learning rate (default: 5e-5)")
    group.add_argument("--adam-epsilon", type=float, default=finetune.BertRecipe.adam_epsilon,
                       help="Adam epsilon, in Keras' form: see tfbert/optim.py (default: %(default)g)")
    group.add_argument("--head-epochs", type=cli.positive_int, default=30,
                       help="frozen variants: epochs of the head on cached features (default: 30)")
    group.add_argument("--head-lr", type=float, default=1e-3, help="frozen variants: learning rate (default: 1e-3)")
    group.add_argument("--buckets", action=argparse.BooleanOptionalAction, default=True,
                       help="fine-tuning batches of similar lengths (default: on)")
    cli.add_run_options(parser, out="runs/agnews", batch_size=32)
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
            "lr": args.lr, "weight_decay": args.weight_decay, "patience": args.patience, **cli.compute(args).identity(),
            "global_batch_size": args.batch_size * strategy.num_replicas_in_sync, "data": data.fingerprint()}


def run_scratch(args, data, strategy, run_dir: Path) -> dict:
    """Trains the from-scratch Transformer; writes config, history, metrics and predictions to `run_dir`."""
    config = scratch_config(args, data)
    train.set_seed(args.seed)
    vectorizer = scratch.build_vectorizer(config, data.train.texts)  # the vocabulary comes from train only
    trainer = train.Trainer(strategy, args.batch_size, len(data.train), args.epochs, compute=cli.compute(args))
    with trainer.scope():
        classifier = scratch.classifier(config, vectorizer)
    splits = {"train": data.train, "validation": data.validation, "test": data.test}
    ids = {name: classifier.ids(split.texts) for name, split in splits.items() if len(split)}  # (N, None) each
    trainer.compile(classifier.model, args.lr, trainer.steps_per_epoch // 2, args.weight_decay,
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    runs.write_config(run_dir, runs.RunConfig(
        "agnews", "scratch", f"scratch Transformer ({args.preset})", class_names=list(data.class_names),
        model=dataclasses.asdict(config), data=data.describe(), class_counts=data.class_counts(), **trainer.header(),
        args=vars(args)))
    runs.write_text(run_dir / "vocab.txt", "\n".join(vectorizer.get_vocabulary()) + "\n")

    batch_size, static_shapes = trainer.global_batch_size, trainer.static_shapes
    pad_lengths = trainer.pad_lengths(config.max_length)  # None: each batch padded to its longest text
    validation, monitor = None, train.KEEP_LAST  # --validation-fraction 0
    if "validation" in ids:
        validation = pipeline.eval_batches(ids["validation"], data.validation.labels, batch_size, pad_lengths,
                                           static_shapes)
        monitor = "val_accuracy"
    train_batches = pipeline.train_batches(ids["train"], data.train.labels, batch_size, args.seed, trainer.epoch,
                                           pad_lengths, static_shapes)
    per_epoch = {"examples": len(data.train)}
    history = trainer.fit(train_batches, validation, run_dir, monitor=monitor, patience=args.patience,
                          per_epoch=per_epoch, verbose=args.verbose)
    with runs.atomic(run_dir / "model.keras") as tmp:
        classifier.model.save(tmp)
    serving.to_tflite(scratch.float32_copy(classifier.model, config), run_dir / "model.tflite",
                      config.max_length)  # ids in; vocab.txt: its tokenizer
    serving.export(classifier, run_dir / "saved_model", data.class_names)
    test_batches = pipeline.eval_batches(ids["test"], data.test.labels, batch_size, pad_lengths, static_shapes)
    probabilities = evaluate.predict_proba(classifier.model, test_batches, len(data.test))
    return evaluate.write_test_results(
        run_dir, data.test, probabilities, data.class_names, **evaluate.parameter_counts(classifier.model),
        **train.summary(history, per_epoch, monitor),
        skipped_rows=data.skipped.summary(),
    )


def hub_pooling(args, trainable: bool) -> str:
    """--pooling, else the better head of each hub variant on AG News (BENCHMARKS.md): frozen, the mean of the
    token vectors (0.883 vs 0.835 with pooled_output); fine-tuned, pooled_output (0.900 vs 0.895)."""
    return args.pooling or ("pooled" if trainable else "mean")


def bert_recipe(args, variant: str) -> finetune.BertRecipe:
    """The recipe of one pretrained-BERT variant: its row of VARIANTS, completed from the command line."""
    recipe = VARIANTS[variant]
    trainable = recipe["trainable"]
    return finetune.BertRecipe(
        **recipe, encoder=args.encoder, pooling=hub_pooling(args, trainable), batch_size=args.batch_size,
        epochs=args.finetune_epochs if trainable else args.head_epochs,
        lr=args.finetune_lr if trainable else args.head_lr, adam_epsilon=args.adam_epsilon,
        max_length=args.max_length, buckets=args.buckets, seed=args.seed)


def bert_data(args, data):
    """`data` with the first --bert-train-examples training texts only."""
    if args.bert_train_examples and args.bert_train_examples < len(data.train):
        return dataclasses.replace(data, train=data.train.take(np.arange(args.bert_train_examples)))
    return data


def identity(args, data, strategy, variant: str) -> dict:
    if variant == "scratch":
        return scratch_identity(args, data, strategy)
    return finetune.identity(bert_recipe(args, variant), bert_data(args, data), strategy, cli.compute(args),
                             experiment="agnews",
                             patience=args.patience)


def run_bert(args, encoder, data, strategy, run_dir: Path) -> dict:
    """Trains one pretrained-BERT variant (`run_dir`'s name: hub_frozen, hf_finetune, ...)."""
    return finetune.run(bert_recipe(args, run_dir.name), encoder, bert_data(args, data), strategy, run_dir,
                        compute=cli.compute(args), patience=args.patience, verbose=args.verbose, cache=args.hub_cache,
                        experiment="agnews",
                        args=vars(args))


@errors.command
def main(argv=None):
    args = parse_args(argv)
    strategy = cli.strategy(args)  # first: multi-worker setup must precede other TF work
    cli.output_folder(args.out)
    families = {VARIANTS[variant]["family"] for variant in args.variants if VARIANTS[variant]}
    try:
        encoder = encoders.resolve(args.encoder, families) if families else None  # once for every variant
        data = ag_news.load(args.data_dir, offline=args.offline, validation_fraction=args.validation_fraction,
                            skip_bad_rows=args.skip_bad_rows)
    except (ValueError, OfflineError, FileNotFoundError) as e:
        hint = "\n(--skip-bad-rows skips such rows and counts them in metrics.json)" if isinstance(e, BadRowError) else ""
        sys.exit(f"error: {e}{hint}")
    print(f"AG News from {data.source}: {data.sizes()}")
    if data.skipped:
        print(f"skipped {len(data.skipped)} bad rows, first: {data.skipped.errors[0]}")
    plans = {args.out / variant: (
        identity(args, data, strategy, variant),
        functools.partial(run_scratch, args, data, strategy, args.out / variant) if variant == "scratch" else
        functools.partial(run_bert, args, encoder, data, strategy, args.out / variant)) for variant in args.variants}
    try:
        runs.run_all(plans, args.overwrite)
    except (runs.RunConflict, runs.RunLocked) as e:
        sys.exit(f"error: {e}")
    if distribute.is_chief(strategy):
        print("\n" + report.render(args.out))
        print(f"\nresults, plots and per-run files: {args.out}/")


if __name__ == "__main__":
    main()
