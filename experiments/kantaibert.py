"""KantaiBERT: a byte-level BPE tokenizer and a small RoBERTa pretrained from scratch on Kant's books.

What it shows: the whole pretraining loop of the book's chapter in TensorFlow — a tokenizer trained on
the corpus, a RoBERTa (6 layers, 12 heads, 83,504,416 parameters) trained with masked language
modelling (masks drawn inside tf.data), the held-out MLM loss per epoch, and fill-mask predictions.

Run it:
    python -m experiments.kantaibert --data-dir ../shared/data/kant                    # the book's settings
    python -m experiments.kantaibert --data-dir ../shared/data/kant --size tiny        # minutes on a CPU
    python -m experiments.kantaibert --data-dir ../shared/data/kant --max-steps 50     # a short look
    python -m experiments.kantaibert --size tiny                # online: downloads the books once (3.5 MB)

The book's settings (batch 64, lr 5e-5 with linear decay, 1 epoch = 787 steps, Adam epsilon 1e-8) took 34
minutes on a 2-core CPU (2.6 s a step) and reached a held-out MLM loss of 6.296, the PyTorch peer's 6.31
(BENCHMARKS.md; 6.353 with tf-models-official's epsilon 1e-6).
Results go to --out (default runs/kantaibert): tokenizer/, model/ (save_pretrained), config.json,
history.json, metrics.json, fill_mask.json. Starting the same command again resumes an unfinished run or,
once it has finished, prints its results without training; a folder holding another run is refused
(`--overwrite` replaces it).
"""
import argparse
import dataclasses
import functools
import sys
from pathlib import Path

from tfbert import cli, errors, files, runs, train
from tfbert.data import BadRowError, OfflineError, bpe, kant
from tfbert.data.splits import fingerprint
from tfbert.models import kantaibert

PROMPTS = (
    "Human thinking involves human <mask>.",
    "The categories of the <mask> are the conditions of experience.",
    "Reason is the faculty of <mask>.",
    "Act only according to that maxim whereby you can at the same time will that it should become a universal <mask>.",
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m experiments.kantaibert", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help=f"folder of kant_*.txt books (default: ${kant.DATA_DIR_VARIABLE}, else the "
                        "seven books downloaded once into $TFBERT_CACHE/kant)")
    parser.add_argument("--offline", action="store_true", help="never use the network; needs --data-dir")
    parser.add_argument("--size", choices=sorted(kantaibert.PRESETS), default="book", help="model size (default: book)")
    parser.add_argument("--epochs", type=cli.positive_int, default=1, help="epochs (default: 1, as the book)")
    parser.add_argument("--max-steps", type=cli.positive_int, default=None, help="cut each epoch to this many steps")
    parser.add_argument("--lr", type=float, default=5e-5, help="peak learning rate (default: 5e-5)")
    parser.add_argument("--warmup-steps", type=int, default=0, help="linear warmup steps (default: 0, as the book)")
    parser.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay (default: 0, as the book)")
    parser.add_argument("--adam-epsilon", type=float, default=1e-8,
                        help="Adam epsilon, in Keras' form: see tfbert/optim.py (default: %(default)g, the value of "
                        "the book's PyTorch AdamW)")
    cli.add_run_options(parser, out="runs/kantaibert", batch_size=64)
    return parser.parse_args(argv)


def identity(args, config, strategy, train_lines, held_out_lines) -> dict:
    """The settings that define a pretraining run (run.json): a run directory holds one run of these."""
    settings = ("epochs", "max_steps", "lr", "warmup_steps", "weight_decay", "adam_epsilon", "seed")
    return {"experiment": "kantaibert", "model": config, **{name: getattr(args, name) for name in settings},
            **cli.compute(args).identity(),
            "global_batch_size": args.batch_size * strategy.num_replicas_in_sync,
            "data": fingerprint(train_lines, held_out_lines)}


def pretrain(args, config, strategy, train_lines, held_out_lines, run_dir: Path):
    """Trains the tokenizer and the model on `train_lines`; writes the run directory's files."""
    train.set_seed(args.seed)

    tokenizer = bpe.tokenizer_for(run_dir / "tokenizer", train_lines, config.vocab_size,
                                  config.max_position_embeddings - 2)
    train_ids, held_out_ids = (bpe.encode(tokenizer, lines, config.block_size) for lines in (train_lines, held_out_lines))
    print(f"{len(train_lines):,} training lines, {len(held_out_lines):,} held out; "
          f"tokenizer vocabulary {tokenizer.vocab_size:,}; {int(train_ids.flat_values.shape[0]):,} training tokens")

    trainer = train.Trainer(strategy, args.batch_size, len(train_lines), args.epochs, max_steps=args.max_steps,
                            compute=cli.compute(args), max_length=config.block_size)
    with trainer.scope():
        model = kantaibert.build_model(config)
    # The loss is the model's own (KantaiBert.chosen_token_loss).
    trainer.compile(model, args.lr, args.warmup_steps, args.weight_decay, args.adam_epsilon)
    runs.write_config(run_dir, runs.RunConfig(
        "kantaibert", args.size, f"KantaiBERT RoBERTa ({args.size})", model=dataclasses.asdict(config),
        data={"train_lines": len(train_lines), "held_out_lines": len(held_out_lines)}, **trainer.header(),
        parameters=kantaibert.count_params(model), tokenizer_vocabulary=tokenizer.vocab_size, args=vars(args)))

    batch_size, steps_per_epoch = trainer.global_batch_size, trainer.steps_per_epoch
    masking = dict(pad_id=tokenizer.pad_token_id, mask_id=tokenizer.mask_token_id, vocab_size=tokenizer.vocab_size,
                   special_ids=tokenizer.all_special_ids)
    train_batches = trainer.mlm_batches(train_ids, args.seed, masking)
    held_out = trainer.mlm_batches(held_out_ids, args.seed, masking, held_out=True)
    examples_per_epoch = min(len(train_lines), steps_per_epoch * batch_size)
    tokens_per_epoch = int(train_ids.flat_values.shape[0]) * examples_per_epoch // len(train_lines)  # expected, if cut
    per_epoch = {"examples": examples_per_epoch, "tokens": tokens_per_epoch}
    history = trainer.fit(train_batches, held_out, run_dir, monitor="val_loss", mode="min", per_epoch=per_epoch,
                          verbose=args.verbose)

    with files.atomic(run_dir / "model") as tmp:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
    fills = {prompt: kantaibert.fill_mask(model, tokenizer, prompt) for prompt in PROMPTS}
    files.write_json(run_dir / "fill_mask.json", fills)
    metrics = {
        "held_out_mlm_loss": [row["val_loss"] for row in history],
        "train_mlm_loss": [row["loss"] for row in history],
        "steps": steps_per_epoch * len(history), "parameters": kantaibert.count_params(model),
        **train.summary(history, per_epoch, monitor="val_loss", mode="min"),
    }
    files.write_json(run_dir / runs.METRICS, metrics)


def show(run_dir: Path):
    """Prints a finished run's held-out loss and fill-mask answers, from its files."""
    metrics, fills = files.read_json(run_dir / runs.METRICS), files.read_json(run_dir / "fill_mask.json")
    print(f"\nheld-out MLM loss by epoch: {', '.join(f'{x:.3f}' for x in metrics['held_out_mlm_loss'])}")
    for prompt, top in fills.items():
        print(f"\n{prompt}\n" + "\n".join(f"  {t['score']:.3f}  {t['token']}" for t in top))


@errors.command
def main(argv=None):
    args = parse_args(argv)
    strategy = cli.strategy(args)
    cli.output_folder(args.out)
    try:
        train_lines, held_out_lines = kant.read_corpus(args.data_dir, offline=args.offline)
    except (FileNotFoundError, BadRowError, OfflineError) as e:
        sys.exit(f"error: {e}")
    config = kantaibert.PRESETS[args.size]
    try:
        runs.run_once(args.out, identity(args, config, strategy, train_lines, held_out_lines),
                      functools.partial(pretrain, args, config, strategy, train_lines, held_out_lines, args.out),
                      args.overwrite)
    except (runs.RunConflict, runs.RunLocked) as e:
        sys.exit(f"error: {e}")
    show(args.out)


if __name__ == "__main__":
    main()
