"""CoLA: fine-tune BERT to judge whether an English sentence is grammatically acceptable.

Variants (all-MiniLM-L6-v2 unless --encoder says otherwise):
    book     the book's recipe: HF `TFBertForSequenceClassification` (pooled output), AdamW lr 2e-5, batch 32,
             4 epochs, no warmup, weight decay 0.1 on weights only
    tuned    the same model, lr 5e-5, 10 % warmup, weight decay 0.01, 4 epochs, Adam epsilon 1e-8 (the
             PyTorch peer's recipe; the others keep tf-models-official's epsilon 1e-6)
    mean     the tuned recipe on the TF-Hub classifier with masked mean pooling, the pooling
             all-MiniLM-L6-v2 was trained with
    frozen   the HF encoder frozen, the classifier trained on its features (it learns little: watch the MCC)
    kh_tuned the tuned recipe on KerasHub's `BertBackbone` (Keras 3; `--backend tensorflow` or `jax`)
Each run keeps the epoch with the best validation MCC (`--keep last`: the last epoch, as the peer does).
Scores: Matthews correlation (MCC) and accuracy on in-domain dev (GLUE's CoLA dev) and out-of-domain dev.
About 70 % of the sentences are acceptable, so a model answering "acceptable" every time is 70 % accurate
with MCC 0: the table's first line is that baseline.

Run it:
    python -m experiments.cola --data-dir ../shared/data/cola           # trains, prints the table
    python -m experiments.cola predict --model runs/cola/tuned          # type sentences, get verdicts
    echo "The cat sat on the mat." | python -m experiments.cola predict --model runs/cola/tuned
"""
import argparse
import dataclasses

from tfbert import classify, cli, distribute, errors, report
from tfbert.classify import Recipe
from tfbert.data import cola
from tfbert.metrics import MatthewsCorrelation
from tfbert.train import KEEP_LAST

# Sentences average 11 tokens, so length buckets would save little: batches are plain shuffles.
RECIPES = {
    "book": Recipe("hf", lr=2e-5, epochs=4, warmup=0.0, weight_decay=0.1, max_length=64, buckets=False),
    "tuned": Recipe("hf", lr=5e-5, epochs=4, warmup=0.1, weight_decay=0.01, adam_epsilon=1e-8, max_length=64,
                    buckets=False),
    "mean": Recipe("hub", pooling="mean", lr=5e-5, epochs=4, warmup=0.1, weight_decay=0.01, adam_epsilon=1e-8,
                   max_length=64, buckets=False),
    "frozen": Recipe("hf", trainable=False, lr=1e-3, epochs=30, warmup=0.1, weight_decay=0.0, max_length=64),
    "kh_tuned": Recipe("kerashub", lr=5e-5, epochs=4, warmup=0.1, weight_decay=0.01, adam_epsilon=1e-8, max_length=64,
                       buckets=False, backend="tensorflow"),
}
SCORES = {  # table header -> key in metrics.json ("test" is in-domain dev)
    "in-domain MCC": "test_mcc", "in-domain accuracy": "test_accuracy",
    "out-of-domain MCC": "out_of_domain_dev_mcc", "out-of-domain accuracy": "out_of_domain_dev_accuracy",
}


def recipe_cell(name, config, metrics) -> str:
    recipe = config.recipe
    head = "mean pooling" if recipe["pooling"] == "mean" else "pooled output"
    return "{head}, lr {lr:g}, {epochs} epochs, warmup {warmup:g}, wd {weight_decay:g}, eps {adam_epsilon:g}".format(
        **recipe, head=head)


COLUMNS = (
    ("variant", report.CELLS["variant"]),
    ("recipe", recipe_cell),
    *[(header, report.CELLS[header]) for header in ("trainable / total params",)],
    *[(header, lambda name, config, metrics, key=key: f"{metrics[key]:.3f}") for header, key in SCORES.items()],
    *[(header, report.CELLS[header]) for header in ("epochs (best)", "train time", "train examples/s")],
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m experiments.cola", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--variants", nargs="+", choices=RECIPES, default=list(RECIPES),
                        help="which recipes to train (default: all)")
    cli.add_data_options(parser, "the raw CoLA TSVs", cola.DATA_DIR_VARIABLE)
    cli.add_encoder_options(parser, max_length=64)
    parser.add_argument("--epochs", type=cli.positive_int, help="override the recipes' epochs")
    parser.add_argument("--adam-epsilon", type=float,
                        help="override the recipes' Adam epsilon (Keras' form, see tfbert/optim.py)")
    parser.add_argument("--keep", choices=("best", "last"), default="best",
                        help="the weights scored: the epoch with the best validation MCC, or the last (default: best)")
    parser.add_argument("--train-examples", type=cli.positive_int,
                        help="train on the first N training sentences (quick runs)")
    cli.add_run_options(parser, out="runs/cola", batch_size=32)
    return parser.parse_args(argv)


def recipe(args, variant: str) -> Recipe:
    """`variant`'s row of RECIPES with the fields the command line sets."""
    options = {"epochs": args.epochs, "adam_epsilon": args.adam_epsilon, "encoder": args.encoder,
               "max_length": args.max_length, "train_examples": args.train_examples,
               "backend": args.backend if RECIPES[variant].backend else None}
    return dataclasses.replace(RECIPES[variant], **{name: value for name, value in options.items() if value is not None},
                               batch_size=args.batch_size, seed=args.seed, experiment="cola", variant=variant)


def train(args):
    strategy = cli.strategy(args)
    cli.output_folder(args.out)
    recipes = {variant: recipe(args, variant) for variant in args.variants}
    cli.check_encoders(recipes.values())  # an encoder that cannot be had fails before any training
    data = cli.load_data("CoLA", cola.load, args)
    classify.run_all(recipes, data, strategy, args.out, compute=cli.compute(args), overwrite=args.overwrite,
                     identity={"keep": args.keep}, verbose=args.verbose, cache=args.hub_cache, args=vars(args),
                     metrics=lambda: ["accuracy", MatthewsCorrelation()],  # a new MCC metric for each model
                     monitor="val_mcc" if args.keep == "best" else KEEP_LAST)
    if distribute.is_chief(strategy):
        print("\n" + report.render(args.out, COLUMNS, score="mcc", baseline=True))
        print(f"\nresults, plots and per-run files: {args.out}/  (verdicts: python -m experiments.cola predict "
              f"--model {args.out / args.variants[-1]})")


@errors.command
def main(argv=None):
    if argv[:1] == ["predict"]:
        from tfbert import verdict
        verdict.main(argv[1:])
    else:
        train(parse_args(argv))


if __name__ == "__main__":
    main()
