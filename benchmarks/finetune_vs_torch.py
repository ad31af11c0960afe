"""Benchmark: fine-tuning speed, tfbert (TF) vs plain PyTorch + HF, same MiniLM, batches, data and CPU.

Both sides fine-tune all-MiniLM-L6-v2 for 4-class AG News (batch 32, AdamW lr 5e-5, 10 % warmup, linear
decay, every weight trained) on the first `--steps` x 32 training texts, each batch padded to its own
longest text. The batches (which texts go together) are drawn once by tfbert's pipeline and given to both
sides, in two orders:
    random   shuffled texts: the peer's dynamic padding
    buckets  tfbert's default: shuffled chunks sorted by length, so a batch holds similar lengths
Reports examples/s over the steps after the first two (graph tracing, allocator warm-up), and the ratios.

    python3 -m venv .venv-torch && .venv-torch/bin/pip install torch==2.13.0 transformers==4.54.1 tokenizers==0.21.4 numpy
    python benchmarks/finetune_vs_torch.py --steps 30
"""
import argparse
import json
import os
import platform
import subprocess
import tempfile
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

import records
from tfbert import classify, encoders, errors, optim, train
from tfbert.data import ag_news, pipeline
from tfbert.data.wordpiece import WordPiece
from tfbert.keras import keras, tf
from timing import step_timer  # benchmarks/timing.py


def tf_examples_per_second(family, texts, labels, batches, total_steps):
    """Trains a fresh classifier on `batches` (lists of example indices); examples/s after 2 steps."""
    recipe = classify.Recipe(family)
    materials = classify.FAMILIES[family].prepare(recipe, None, None, train.Compute())  # a TF-Hub export: cached
    keras.utils.set_random_seed(0)
    classifier = classify.build(recipe, materials, 4)
    inputs = classifier.ids(texts)  # (N, None) WordPiece ids: the preprocessor runs before the model
    model = classifier.model
    model.compile(optim.create_adamw(5e-5, total_steps, total_steps // 10, 0.01),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    index = tf.ragged.constant(batches)
    dataset = tf.data.Dataset.from_tensor_slices(index).map(
        lambda i: (pipeline.gather_batch(inputs, i), tf.gather(labels, i))).prefetch(2)
    timer = step_timer(keras)
    model.fit(dataset, epochs=1, verbose=0, callbacks=[timer])
    sizes = [len(b) for b in batches]
    return sum(sizes[2:]) / sum(timer.seconds[2:])


@errors.command
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data" / "ag_news")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--families", nargs="+", default=["hf", "hub"])
    parser.add_argument("--torch-python", type=Path, default=ROOT / ".venv-torch" / "bin" / "python")
    args = parser.parse_args(argv)
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    batch_size = 32
    data = ag_news.load(args.data_dir)
    n = args.steps * batch_size
    texts, labels = data.train.texts[:n], data.train.labels[:n]
    lengths = WordPiece(encoders.minilm_dir() / "vocab.txt", 128)(tf.constant(texts)).row_lengths().numpy()
    orders = {}
    for name, bucket_lengths in (("random", None), ("buckets", lengths)):
        batches = pipeline.index_batches(n, batch_size, 0, lambda: 0, lengths=bucket_lengths)
        orders[name] = [i.numpy().tolist() for _, _, i in batches]
    padded = {name: sum(len(b) * lengths[b].max() for b in map(np.array, bs)) for name, bs in orders.items()}

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        setup = Path(tmp) / "setup.json"
        setup.write_text(json.dumps({"texts": texts, "labels": labels.tolist(), "orders": orders,
                                     "model": str(encoders.minilm_dir()), "threads": args.threads,
                                     "total_steps": args.steps}))
        for name in orders:
            peer = subprocess.run([str(args.torch_python), str(ROOT / "benchmarks" / "torch_peer_finetune.py"),
                                   str(setup), name], check=True, capture_output=True, text=True)
            results[f"torch {name}"] = json.loads(peer.stdout.strip().splitlines()[-1])["examples_per_second"]
    for family in args.families:
        for name, batches in orders.items():
            results[f"tf {family} {name}"] = tf_examples_per_second(family, texts, labels, batches, args.steps)

    print(f"# fine-tuning speed, {date.today()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, threads {args.threads}, {args.steps} steps of {batch_size}")
    print(f"padded tokens per epoch: random {padded['random']:,}, buckets {padded['buckets']:,} "
          f"(real tokens {lengths.sum():,})")
    columns = ["setup", "examples/s", "vs torch random (the peer)", "vs torch, same batches"]
    rows = [[key, round(value, 2), f"{value / results['torch random']:.2f}x",
             f"{value / results[f'torch {key.split()[-1]}']:.2f}x"] for key, value in results.items()]
    print(records.markdown(columns, rows))
    records.write("speed", "finetune-vs-torch", kind="table", command=records.command_line(__file__, argv),
                  label=f"MiniLM fine-tuning, {args.steps} batches of {batch_size}, examples/s over steps 3-{args.steps}",
                  columns=columns, rows=rows, notes=f"padded tokens a pass: random {padded['random']:,}, buckets "
                  f"{padded['buckets']:,} (real {lengths.sum():,}); one repeat")


if __name__ == "__main__":
    main()
