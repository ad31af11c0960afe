"""AG News topic classification (World / Sports / Business / Sci/Tech): from scratch vs pretrained BERT.

Variants:
    scratch       a small Transformer trained from scratch (the keras-io model, from tfbert's
                  `TokenAndPositionEmbedding` and `TransformerBlock`)
    hub_frozen    TF-Hub preprocessing + encoder (`hub.KerasLayer`, trainable=False): a feature extractor
    hub_finetune  the same, trainable=True, AdamW + linear warmup/decay
    hf_frozen     HF `TFBertForSequenceClassification` with its `bert` layer frozen
    hf_finetune   the same, every weight trained
    kh_frozen     KerasHub `BertBackbone` (Keras 3, `--backend tensorflow` or `jax`), frozen: a feature extractor
    kh_finetune   the same, every weight trained (each kh run trains in a Keras 3 process of its own)
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

from tfbert import classify, cli, distribute, errors, report
from tfbert.classify import Recipe
from tfbert.data import ag_news
from tfbert.models import scratch

# The recipe of each variant. The quick/full presets below and the command line override fields of them.
VARIANTS = {
    "scratch": Recipe("scratch", preset="regularized", epochs=15, lr=1e-3, weight_decay=0.1, warmup_epochs=0.5,
                      max_length=scratch.PRESETS["regularized"].max_length, buckets=False, eval_by_length=False),
    # Frozen: the head on cached features; the mean of the token vectors is the better head (0.883 vs 0.835 with
    # pooled_output, BENCHMARKS.md), fine-tuned pooled_output is (0.900 vs 0.895).
    "hub_frozen": Recipe("hub", trainable=False, pooling="mean", epochs=30, lr=1e-3, weight_decay=0.0),
    "hub_finetune": Recipe("hub", trainable=True, pooling="pooled", epochs=4, lr=5e-5, weight_decay=0.01),
    "hf_frozen": Recipe("hf", trainable=False, epochs=30, lr=1e-3, weight_decay=0.0),
    "hf_finetune": Recipe("hf", trainable=True, epochs=4, lr=5e-5, weight_decay=0.01),
    "kh_frozen": Recipe("kerashub", trainable=False, pooling="mean", epochs=30, lr=1e-3, weight_decay=0.0,
                        backend="tensorflow"),
    "kh_finetune": Recipe("kerashub", trainable=True, pooling="pooled", epochs=4, lr=5e-5, weight_decay=0.01,
                          backend="tensorflow"),
}
# The defaults' trade, fits in 15 minutes on 2 cores: pretrained encoders see 2,000 texts and fine-tune 1 epoch.
PRESETS = {"quick": {"train_examples": 2000, "finetune_epochs": 1},
           "full": {"train_examples": None, "finetune_epochs": 4}}  # --full: the benchmark settings
# Which option sets which recipe field, by kind of variant (an option left out keeps the recipe's value).
OPTIONS = {
    "scratch": {"epochs": "epochs", "lr": "lr", "weight_decay": "weight_decay", "preset": "preset"},
    "finetune": {"epochs": "finetune_epochs", "lr": "finetune_lr", "train_examples": "bert_train_examples",
                 "pooling": "pooling", "adam_epsilon": "adam_epsilon", "max_length": "max_length",
                 "buckets": "buckets", "encoder": "encoder"},
    "frozen": {"epochs": "head_epochs", "lr": "head_lr", "train_examples": "bert_train_examples",
               "pooling": "pooling", "adam_epsilon": "adam_epsilon", "max_length": "max_length", "encoder": "encoder"},
}


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
    group.add_argument("--epochs", type=cli.positive_int, help="most epochs (default: 15)")
    group.add_argument("--lr", type=float, help="peak learning rate (default: 1e-3)")
    group.add_argument("--weight-decay", type=float, help="AdamW weight decay (default: 0.1)")
    group.add_argument("--preset", choices=sorted(scratch.PRESETS), help="the model's sizes and dropouts "
                       "(default: regularized)")
    group = parser.add_argument_group("pretrained BERT (hub_*, hf_* and kh_*)")
    group.add_argument("--full", action="store_true",
                       help="benchmark settings: all training texts, 4 fine-tuning epochs "
                       "(default: 2,000 texts, 1 epoch)")
    cli.add_encoder_options(group, max_length=None)
    group.add_argument("--pooling", choices=("mean", "pooled"),
                       help="masked mean of sequence_output, or pooled_output (default: hub_frozen mean, the others "
                       "pooled)")
    group.add_argument("--bert-train-examples", type=cli.positive_int, help="train on the first N training texts")
    group.add_argument("--finetune-epochs", type=cli.positive_int, help="fine-tuning epochs")
    group.add_argument("--finetune-lr", type=float, help="fine-tuning peak learning rate (default: 5e-5)")
    group.add_argument("--adam-epsilon", type=float, help="Adam epsilon, in Keras' form: see tfbert/optim.py "
                       f"(default: {Recipe.adam_epsilon:g})")
    group.add_argument("--head-epochs", type=cli.positive_int, help="frozen variants: epochs of the head on cached "
                       "features (default: 30)")
    group.add_argument("--head-lr", type=float, help="frozen variants: learning rate (default: 1e-3)")
    group.add_argument("--buckets", action=argparse.BooleanOptionalAction, default=None,
                       help="fine-tuning batches of similar lengths (default: on)")
    cli.add_run_options(parser, out="runs/agnews", batch_size=32)
    args = parser.parse_args(argv)
    if not 0 <= args.validation_fraction < 1:
        parser.error(f"--validation-fraction must be in [0, 1), got {args.validation_fraction}")
    for name, value in PRESETS["full" if args.full else "quick"].items():
        name = "bert_train_examples" if name == "train_examples" else name
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def recipe(args, variant: str) -> Recipe:
    """`variant`'s row of VARIANTS with the fields the command line sets."""
    base = VARIANTS[variant]
    kind = "finetune" if base.trainable else "frozen"
    kind = kind if classify.FAMILIES[base.family].pretrained else "scratch"
    fields = {field: getattr(args, option) for field, option in OPTIONS[kind].items()
              if getattr(args, option) is not None}
    if base.backend and args.backend:  # the Keras 3 family's
        fields["backend"] = args.backend
    if "preset" in fields:
        fields["max_length"] = scratch.PRESETS[fields["preset"]].max_length
    return dataclasses.replace(base, **fields, batch_size=args.batch_size, seed=args.seed, patience=args.patience,
                               validation_fraction=args.validation_fraction, experiment="agnews", variant=variant)


@errors.command
def main(argv=None):
    args = parse_args(argv)
    strategy = cli.strategy(args)  # first: multi-worker setup must precede other TF work
    cli.output_folder(args.out)
    recipes = {variant: recipe(args, variant) for variant in args.variants}
    cli.check_encoders(recipes.values())  # an encoder that cannot be had fails before any training
    data = cli.load_data("AG News", ag_news.load, args, validation_fraction=args.validation_fraction)
    classify.run_all(recipes, data, strategy, args.out, compute=cli.compute(args), overwrite=args.overwrite,
                     verbose=args.verbose, cache=args.hub_cache, args=vars(args))
    if distribute.is_chief(strategy):
        print("\n" + report.render(args.out))
        print(f"\nresults, plots and per-run files: {args.out}/")


if __name__ == "__main__":
    main()
