"""Benchmark: the from-scratch Transformer on the offline AG News split, beside the textbook's recipe.

Trains `python -m experiments.agnews --variants scratch` (its defaults) for each seed, and the textbook's
keras-io recipe on the same training examples in the same process run, then prints a Markdown block
for BENCHMARKS.md: test accuracy (mean and spread over seeds), seconds per epoch, and the ratios.

The textbook recipe: TextVectorization padded to 256, the keras-io model (no padding mask, key_dim =
embed_dim, GlobalAveragePooling1D over padding too), Adam 1e-3, batch 32, 10 epochs, and its test
accuracy read after the last epoch ("peak" = the best epoch on test, which is how the textbook chose).

    python benchmarks/agnews_scratch.py --data-dir ../shared/data/ag_news          # ~30 min on 2 cores
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import records
from tfbert import errors
from tfbert.data import ag_news
from tfbert.keras import keras, tf


def run_ours(data_dir, seed, out) -> dict:
    command = [sys.executable, "-m", "experiments.agnews", "--variants", "scratch", "--data-dir", str(data_dir),
               "--seed", str(seed), "--out", str(out), "--verbose", "0"]
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    metrics = json.loads((out / "scratch" / "metrics.json").read_text())
    history = json.loads((out / "scratch" / "history.json").read_text())
    return {"test_accuracy": metrics["test_accuracy"], "epochs": len(history),
            "epoch_seconds": statistics.median(r["train_seconds"] for r in history[1:] or history)}


class TextbookTransformerBlock(keras.layers.Layer):  # keras-io, as printed
    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
        super().__init__()
        self.att = keras.layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = keras.Sequential([keras.layers.Dense(ff_dim, activation="relu"), keras.layers.Dense(embed_dim)])
        self.norm1, self.norm2 = keras.layers.LayerNormalization(epsilon=1e-6), keras.layers.LayerNormalization(epsilon=1e-6)
        self.drop1, self.drop2 = keras.layers.Dropout(rate), keras.layers.Dropout(rate)

    def call(self, inputs, training=None):
        out1 = self.norm1(inputs + self.drop1(self.att(inputs, inputs), training=training))
        return self.norm2(out1 + self.drop2(self.ffn(out1), training=training))


class TextbookEmbedding(keras.layers.Layer):  # keras-io, as printed
    def __init__(self, maxlen, vocab_size, embed_dim):
        super().__init__()
        self.token_emb = keras.layers.Embedding(vocab_size, embed_dim)
        self.pos_emb = keras.layers.Embedding(maxlen, embed_dim)

    def call(self, x):
        return self.token_emb(x) + self.pos_emb(tf.range(tf.shape(x)[-1]))


def run_textbook(data, seed, vocab_size=20_000, maxlen=256, epochs=10) -> dict:
    keras.utils.set_random_seed(seed)
    vectorize = keras.layers.TextVectorization(max_tokens=vocab_size, output_sequence_length=maxlen)
    vectorize.adapt(tf.constant(data.train.texts))
    x_train, x_test = vectorize(tf.constant(data.train.texts)), vectorize(tf.constant(data.test.texts))
    inputs = keras.Input(shape=(maxlen,))
    x = TextbookTransformerBlock(32, 2, 32)(TextbookEmbedding(maxlen, vocab_size, 32)(inputs))
    x = keras.layers.Dropout(0.1)(keras.layers.GlobalAveragePooling1D()(x))
    x = keras.layers.Dropout(0.1)(keras.layers.Dense(20, activation="relu")(x))
    model = keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(x))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    seconds, test_accuracies = [], []
    for _ in range(epochs):
        started = time.perf_counter()
        model.fit(x_train, data.train.labels, batch_size=32, epochs=1, verbose=0)
        seconds.append(time.perf_counter() - started)
        test_accuracies.append(model.evaluate(x_test, data.test.labels, verbose=0)[1])
    return {"test_accuracy": test_accuracies[-1], "peak_test_accuracy": max(test_accuracies), "epochs": epochs,
            "epoch_seconds": statistics.median(seconds[1:])}


def mean_spread(values):
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values) if len(values) > 1 else 0:.4f}"


@errors.command
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data" / "ag_news")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench" / "agnews_scratch")
    args = parser.parse_args(argv)
    data = ag_news.load(args.data_dir)

    ours, textbook = [], []
    for seed in args.seeds:
        ours.append(run_ours(args.data_dir, seed, args.out / f"seed{seed}"))
        textbook.append(run_textbook(data, seed))
        print(f"seed {seed}: ours {ours[-1]}  textbook {textbook[-1]}", flush=True)

    acc = lambda runs: [r["test_accuracy"] for r in runs]  # noqa: E731
    sec = lambda runs: statistics.mean(r["epoch_seconds"] for r in runs)  # noqa: E731
    print(f"\n### AG News, from-scratch Transformer ({date.today()}, {platform.machine()}, "
          f"{os.cpu_count()} cores, seeds {args.seeds})\n")
    print("| recipe | test accuracy per seed | mean ± std | epochs | s / epoch (median) |")
    print("|---|---|---|---|---|")
    for name, runs in [("tfbert scratch (defaults)", ours), ("textbook keras-io recipe", textbook)]:
        print(f"| {name} | {' / '.join(f'{a:.4f}' for a in acc(runs))} | {mean_spread(acc(runs))} | "
              f"{'/'.join(str(r['epochs']) for r in runs)} | {sec(runs):.1f} |")
    print(f"\ntextbook peak test accuracy (best epoch chosen on test): {mean_spread([r['peak_test_accuracy'] for r in textbook])}")
    print(f"ratios, ours / textbook: accuracy {statistics.mean(acc(ours)) / statistics.mean(acc(textbook)):.3f}x, "
          f"seconds per epoch {sec(ours) / sec(textbook):.2f}x")
    records.write("agnews_scratch", "tfbert-scratch", kind="seeds", label="tfbert scratch (regularized preset, defaults)",
                  command=records.command_line(__file__, argv), metric="test_accuracy",
                  values={str(seed): run["test_accuracy"] for seed, run in zip(args.seeds, ours)},
                  extra={"s / epoch": round(sec(ours), 1)},
                  peer={"label": "textbook keras-io recipe", "seeds": acc(textbook)},
                  notes=f"textbook peak (epoch chosen on test) {mean_spread([r['peak_test_accuracy'] for r in textbook])}"
                  f"; textbook {sec(textbook):.1f} s / epoch")


if __name__ == "__main__":
    main()
