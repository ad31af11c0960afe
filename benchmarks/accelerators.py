"""Benchmark: training speed with the switches a GPU/TPU run uses, against the PyTorch peer, on this CPU.

Each model is given the very same batches (which examples go together, and their token ids) in every setup:
    minilm      all-MiniLM-L6-v2 fine-tuned on AG News (HF TFBertForSequenceClassification), batch 32, tfbert's
                length buckets, AdamW lr 5e-5                                       -> examples/s
    scratch     the from-scratch Transformer (preset regularized), batch 32, shuffled -> tokens/s (real tokens)
    kantaibert  the book's RoBERTa (83.5 M parameters), MLM, batch 64, Kant's lines   -> tokens/s (real tokens)
Setups:
    tf dynamic          tfbert's default on a CPU: each batch padded to its longest row, float32, no XLA
    tf dynamic bf16     the same under `--precision mixed_bfloat16` (oneDNN's bfloat16 kernels, no XLA)
    tf xla static       `--jit-compile`: batches padded to a multiple of --pad-multiple, compiled with XLA
    tf xla static bf16  the same under `--precision mixed_bfloat16`
    torch               the PyTorch twin (its own venv) on the same batches, each padded to its longest row
    keras3 ...          minilm only: the kerashub family (KerasHub's BertBackbone under Keras 3, exact GELU, Keras 3's
                        AdamW) on the same batches, in a process per setup (benchmarks/kerashub_steps.py), on the
                        TensorFlow backend with and without XLA and on JAX (always XLA, static shapes), f32 and bf16
Every setup trains two passes over its batches and times each step of the second (the first traces the
graph, compiles each shape with XLA and warms the allocator); --repeats runs all of it again, interleaved.
Also measured in the same run: a 2048 x 2048 matmul's GFLOP/s in float32 and bfloat16, and each setup's
achieved training GFLOP/s (3 x the forward FLOPs of the shapes it actually ran, matmuls and attention
only) as a fraction of them.

    python3 -m venv .venv-torch && .venv-torch/bin/pip install torch==2.13.0 transformers==4.54.1 tokenizers==0.21.4 numpy
    python benchmarks/accelerators.py --repeats 2
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

import records
from tfbert import classify, encoders, errors, train
from tfbert.data import OfflineError, ag_news, bpe, kant, mlm, pipeline
from tfbert.keras import keras, tf
from tfbert.models import kantaibert, kerashub, scratch
from timing import step_timer  # benchmarks/timing.py

KERAS3_SETUPS = {  # name: (Keras 3 backend, Compute)
    "keras3 tf dynamic": ("tensorflow", train.Compute()),
    "keras3 tf dynamic bf16": ("tensorflow", train.Compute("mixed_bfloat16")),
    "keras3 tf xla static": ("tensorflow", train.Compute(jit_compile=True)),
    "keras3 tf xla static bf16": ("tensorflow", train.Compute("mixed_bfloat16", jit_compile=True)),
    "keras3 jax xla static": ("jax", train.Compute(jit_compile=True)),
    "keras3 jax xla static bf16": ("jax", train.Compute("mixed_bfloat16", jit_compile=True)),
}
SETUPS = {
    "tf dynamic": train.Compute(),
    "tf dynamic bf16": train.Compute("mixed_bfloat16"),
    "tf xla static": train.Compute(jit_compile=True),
    "tf xla static bf16": train.Compute("mixed_bfloat16", jit_compile=True),
}


def matmul_gflops(dtype, n=2048, repeats=20) -> float:
    a, b = (tf.cast(tf.random.normal((n, n)), dtype) for _ in range(2))
    tf.matmul(a, b).numpy()  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        product = tf.matmul(a, b)
    product.numpy()
    return 2 * n ** 3 * repeats / (time.perf_counter() - started) / 1e9


def encoder_flops(tokens, length, layers, hidden, intermediate) -> float:
    """Forward FLOPs of a BERT encoder on `tokens` = B x T positions of sequences of `length` (matmuls, attention)."""
    return layers * (2 * tokens * (4 * hidden * hidden + 2 * hidden * intermediate) + 4 * tokens * length * hidden)


# --- the three models: (TF step times, padded shapes) for a Compute, and the peer's setup ----------------------


class Classifier:
    """What the two classifiers share: a model compiled for a Compute, trained on `self.batches` of `self.ids`."""

    def compiled(self, compute, build, lr, warmup, weight_decay, max_length):
        """`build()` compiled for `compute` (seeded alike in every setup: the same initial weights), and the batches
        in its shapes; `warmup(trainer)`: the warmup steps."""
        keras.utils.set_random_seed(0)
        trainer = train.Trainer(tf.distribute.get_strategy(), self.batch_size, len(self.labels), 2, compute=compute)
        with trainer.scope():
            model = build()
        trainer.compile(model, lr, warmup(trainer), weight_decay,
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        lengths, rows = trainer.pad_lengths(max_length), self.batch_size if trainer.static_shapes else None
        return model, [(pipeline.pad_batch(tf.gather(self.ids, b), lengths, rows), self.labels[b]) for b in self.batches]

    def tf_steps(self, compute):
        model, batches = self.model_and_batches(compute)
        return fit_twice(model, batches), [tuple(x.shape) for x, _ in batches]


class MiniLM(Classifier):
    unit, batch_size, max_length = "examples", 32, 128

    def __init__(self, data_dir, steps):
        data = ag_news.load(data_dir / "ag_news", offline=True)
        self.encoder = encoders.resolve("minilm_l6")
        self.config = json.loads((self.encoder.folder / "config.json").read_text())
        n = steps * self.batch_size
        self.texts, self.labels = data.train.texts[:n], data.train.labels[:n]
        self.ids = self.encoder.wordpiece(self.max_length)(tf.constant(self.texts))  # (n, None), the same for all
        lengths = self.ids.row_lengths().numpy()
        self.batches = [i.numpy() for _, _, i in pipeline.index_batches(n, self.batch_size, 0, lambda: 0,
                                                                         lengths=lengths)]
        self.real = [len(b) for b in self.batches]  # what the rate counts

    def model_and_batches(self, compute):
        """The model compiled for `compute` (the same initial weights in every setup), and the batches in its shapes."""
        build = lambda: classify.build(classify.Recipe("hf", max_length=self.max_length), self.encoder, 4).model  # noqa: E731
        return self.compiled(compute, build, 5e-5, lambda trainer: trainer.total_steps // 10, 0.01, self.max_length)

    def flops(self, shape):
        b, t = shape
        return 3 * (encoder_flops(b * t, t, self.config["num_hidden_layers"], self.config["hidden_size"],
                                  self.config["intermediate_size"]) + 2 * b * self.config["hidden_size"] ** 2)

    def breakdown(self) -> dict:
        """Seconds a pass (the second) of the float32 dynamic setup's forward, forward + backward, and full step."""
        keras.utils.set_random_seed(0)
        model = classify.build(classify.Recipe("hf", max_length=self.max_length), self.encoder, 4).model
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        batches = [(pipeline.pad_batch(tf.gather(self.ids, b)), tf.constant(self.labels[b])) for b in self.batches]

        @tf.function(reduce_retracing=True)
        def forward(x, y):
            return loss(y, model(x, training=True))

        @tf.function(reduce_retracing=True)
        def backward(x, y):
            with tf.GradientTape() as tape:
                value = loss(y, model(x, training=True))
            return tape.gradient(value, model.trainable_variables)

        seconds = {}
        for name, step in (("forward", forward), ("forward + backward", backward)):
            for _ in range(2):
                started = time.perf_counter()
                for x, y in batches:
                    tf.nest.map_structure(lambda t: tf.convert_to_tensor(t).numpy(), step(x, y))
                seconds[name] = time.perf_counter() - started
        return seconds

    def keras3_steps(self, backend, compute):
        """Step seconds of the kerashub family on these batches (padded as `compute`'s shapes), and the shapes."""
        done, shapes = self.keras3_run(backend, compute)
        return done["step_seconds"], shapes

    def keras3_run(self, backend, compute, profile=None):
        """What benchmarks/kerashub_steps.py prints for these batches (padded as `compute`'s shapes; the second pass
        profiled into the folder `profile` if given), and the shapes."""
        lengths = pipeline.pad_lengths(self.max_length, compute.pad_multiple) if compute.jit_compile else None
        batches = [(pipeline.pad_batch(tf.gather(self.ids, b), lengths).numpy(), self.labels[b]) for b in self.batches]
        setup = {"model_dir": str(self.encoder.folder), "lr": 5e-5, "weight_decay": 0.01, "batches": len(batches),
                 "precision": compute.precision, "jit_compile": compute.jit_compile,
                 "profile": str(profile) if profile else None}
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "batches.npz"
            arrays = {f"{i}_{k}": v for i, (x, y) in enumerate(batches) for k, v in (("input_ids", x), ("labels", y))}
            np.savez(path, setup=json.dumps(setup), **arrays)
            done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "kerashub_steps.py"), str(path)],
                                  capture_output=True, text=True, env=kerashub.environment(backend))
        if done.returncode:
            sys.exit(f"the Keras 3 setup failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1]), [x.shape for x, _ in batches]

    def peer(self):
        batches = []
        for b in self.batches:
            ids = pipeline.pad_batch(tf.gather(self.ids, b)).numpy()
            batches.append({"input_ids": ids, "attention_mask": (ids != 0).astype(np.int64), "labels": self.labels[b]})
        return {"kind": "minilm", "model_dir": str(self.encoder.folder), "lr": 5e-5, "weight_decay": 0.01}, batches


class Scratch(Classifier):
    unit, batch_size = "tokens", 32

    def __init__(self, data_dir, steps):
        data = ag_news.load(data_dir / "ag_news", offline=True)
        self.config = scratch.PRESETS["regularized"]
        self.vectorizer = scratch.build_vectorizer(self.config, data.train.texts)
        n = steps * self.batch_size
        self.labels = data.train.labels[:n]
        self.ids = scratch.encode(self.vectorizer, data.train.texts[:n], self.config)
        self.batches = [i.numpy() for _, _, i in pipeline.index_batches(n, self.batch_size, 0, lambda: 0)]
        lengths = self.ids.row_lengths().numpy()
        self.real = [int(lengths[b].sum()) for b in self.batches]

    def model_and_batches(self, compute):
        return self.compiled(compute, lambda: scratch.build(self.config).model, 1e-3,
                             lambda trainer: trainer.steps_per_epoch // 2, 0.1, self.config.max_length)

    def flops(self, shape):
        b, t = shape
        d, f = self.config.embed_dim, self.config.ff_dim
        block = 2 * b * t * (4 * d * d + 2 * d * f) + 4 * b * t * t * d
        return 3 * (block + 2 * b * (d * self.config.hidden_dim + self.config.hidden_dim * self.config.num_classes))

    def peer(self):
        batches = [{"input_ids": pipeline.pad_batch(tf.gather(self.ids, b)).numpy(), "labels": self.labels[b]}
                   for b in self.batches]
        import dataclasses
        return {"kind": "scratch", "model": dataclasses.asdict(self.config), "lr": 1e-3, "weight_decay": 0.1}, batches


class KantaiBert:
    unit, batch_size = "tokens", 64

    def __init__(self, data_dir, steps):
        self.config = kantaibert.PRESETS["book"]
        train_lines, _ = kant.read_corpus(data_dir / "kant")
        tokenizer = bpe.tokenizer_for(ROOT / "runs" / "bench" / "kantaibert-book" / "tokenizer", train_lines,
                                      self.config.vocab_size, self.config.max_position_embeddings - 2)
        ids = bpe.encode(tokenizer, train_lines[: steps * self.batch_size], self.config.block_size)
        self.pad_id = tokenizer.pad_token_id
        masking = dict(pad_id=self.pad_id, mask_id=tokenizer.mask_token_id, vocab_size=tokenizer.vocab_size,
                       special_ids=tokenizer.all_special_ids)
        self.batches = [{k: v.numpy() for k, v in batch.items()}
                        for batch in mlm.mlm_batches(ids, self.batch_size, 0, lambda: 0, **masking)]
        self.real = [int(b["attention_mask"].sum()) for b in self.batches]

    def model_and_batches(self, compute):
        keras.utils.set_random_seed(0)
        trainer = train.Trainer(tf.distribute.get_strategy(), self.batch_size, len(self.batches) * self.batch_size, 2,
                                compute=compute)
        with trainer.scope():
            model = kantaibert.build_model(self.config)
        trainer.compile(model, 5e-5, 0, 0.0)
        lengths = trainer.pad_lengths(self.config.block_size)
        return model, [self.static(batch, lengths) if lengths else batch for batch in self.batches]

    def tf_steps(self, compute):
        model, batches = self.model_and_batches(compute)
        scored = [b["chosen"].shape if "chosen" in b else ((b["labels"] != mlm.IGNORE).sum(),) for b in batches]
        return fit_twice(model, batches), [(b["input_ids"].shape, m) for b, m in zip(batches, scored)]

    def static(self, batch, lengths):
        """The same batch padded to the first of `lengths` that holds it, with its chosen positions listed."""
        t = min(length for length in lengths if length >= batch["input_ids"].shape[1])
        extra = ((0, 0), (0, t - batch["input_ids"].shape[1]))
        padded = {"input_ids": np.pad(batch["input_ids"], extra, constant_values=self.pad_id),
                  "attention_mask": np.pad(batch["attention_mask"], extra),
                  "labels": np.pad(batch["labels"], extra, constant_values=mlm.IGNORE)}
        room = int(np.ceil(mlm.CHOSEN_SHARE * padded["labels"].size))
        assert (padded["labels"] != mlm.IGNORE).sum() <= room, "more chosen tokens than the static batch has room for"
        positions, weights = mlm.chosen_positions(tf.constant(padded["labels"]), room)
        return {**padded, "chosen": positions.numpy(), "chosen_weights": weights.numpy()}

    def flops(self, shapes):
        (b, t), (m,) = shapes
        c = self.config
        head = 2 * m * c.hidden_size * (c.hidden_size + c.vocab_size)  # dense + decoder on the scored positions
        return 3 * (encoder_flops(b * t, t, c.num_hidden_layers, c.hidden_size, c.intermediate_size) + head)

    def peer(self):
        model = {k: v for k, v in vars(self.config).items() if k != "block_size"}
        return {"kind": "kantaibert", "model": model, "lr": 5e-5, "weight_decay": 0.0}, self.batches


MODELS = {"minilm": MiniLM, "scratch": Scratch, "kantaibert": KantaiBert}


def load(name: str, data_dir: Path, steps: int):
    """MODELS[name] on `steps` batches of the data under `data_dir`; a missing or bad data folder is one line."""
    try:
        return MODELS[name](data_dir, steps)
    except (FileNotFoundError, ValueError, OfflineError) as e:
        raise errors.UserError(f"{e} (--data-dir: the folder holding ag_news/ and kant/)") from None


def fit_twice(model, batches) -> list[float]:
    """Seconds of each step of the second of two passes over `batches` (a list of Keras inputs, held in memory)."""
    dataset = tf.data.Dataset.from_tensors(batches[0])
    for batch in batches[1:]:
        dataset = dataset.concatenate(tf.data.Dataset.from_tensors(batch))
    timer = step_timer(keras)
    model.fit(dataset, epochs=2, verbose=0, callbacks=[timer])
    return timer.seconds[len(batches):]


def peer_steps(model, torch_python, threads) -> list[float] | None:
    if not torch_python.exists():
        return None
    setup, batches = model.peer()
    keys = sorted(batches[0])
    setup.update(threads=threads, passes=2, batches=len(batches), keys=keys)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batches.npz"
        arrays = {f"{i}_{k}": np.asarray(b[k]) for i, b in enumerate(batches) for k in keys}
        np.savez(path, setup=json.dumps(setup), **arrays)
        done = subprocess.run([str(torch_python), str(ROOT / "benchmarks" / "torch_peer_steps.py"), str(path)],
                              capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"the PyTorch peer failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["step_seconds"]


@errors.command
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--steps", type=int, nargs=3, default=[12, 40, 6], metavar=("MINILM", "SCRATCH", "KANTAIBERT"),
                        help="batches per pass (default: 12 40 6)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--setups", nargs="+", choices=[*SETUPS, *KERAS3_SETUPS, "torch"],
                        help="only these setups (default: all); the record's name then ends in -some (or --tag)")
    parser.add_argument("--tag", type=records.tag, help="end the record's name in -TAG")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--torch-python", type=Path, default=ROOT / ".venv-torch" / "bin" / "python")
    args = parser.parse_args(argv)
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    steps = dict(zip(MODELS, args.steps))

    peaks = {"float32": matmul_gflops(tf.float32), "bfloat16": matmul_gflops(tf.bfloat16)}
    print(f"# accelerator switches on a CPU, {datetime.now():%Y-%m-%d %H:%M}, {platform.machine()}, "
          f"{os.cpu_count()} cores, {args.threads} threads, TF {tf.__version__}")
    print(f"2048x2048 matmul: float32 {peaks['float32']:.0f} GFLOP/s, bfloat16 {peaks['bfloat16']:.0f} GFLOP/s")
    for name in args.models:
        model = load(name, args.data_dir, steps[name])
        rows = {}
        for repeat in range(args.repeats):
            for setup, compute in SETUPS.items():
                if args.setups and setup not in args.setups:
                    continue
                started = time.perf_counter()
                seconds, shapes = model.tf_steps(compute)
                rows.setdefault(setup, []).append((seconds, shapes, time.perf_counter() - started))
            for setup, (backend, compute) in (KERAS3_SETUPS.items() if hasattr(model, "keras3_steps") else ()):
                if args.setups and setup not in args.setups:
                    continue
                started = time.perf_counter()
                seconds, shapes = model.keras3_steps(backend, compute)
                rows.setdefault(setup, []).append((seconds, shapes, time.perf_counter() - started))
            seconds = peer_steps(model, args.torch_python, args.threads) if not args.setups or "torch" in args.setups \
                else None
            if seconds is not None:
                shapes = [(b["input_ids"].shape, (b["input_ids"].size,)) if name == "kantaibert"
                          else b["input_ids"].shape for b in model.peer()[1]]  # HF's loss projects every token
                rows.setdefault("torch", []).append((seconds, shapes, None))
        real = sum(model.real)
        print(f"\n## {name}: {len(model.batches)} batches of {model.batch_size}, {real:,} real {model.unit} a pass\n")
        columns = ["setup", f"{model.unit}/s (each repeat)", "vs torch", "GFLOP/s", "of f32 matmul",
                   "of bf16 matmul", "padded tokens", "setup + 2 passes s"]
        rates = {setup: [real / sum(s) for s, _, _ in runs] for setup, runs in rows.items()}
        table = []
        for setup, runs in rows.items():
            seconds, shapes, total = runs[-1]
            gflops = sum(model.flops(shape) for shape in shapes) / sum(seconds) / 1e9
            padded = sum(int(np.prod(s[0] if name == "kantaibert" else s)) for s in shapes)
            ratio = (f"{statistics.median(rates[setup]) / statistics.median(rates['torch']):.2f}x"
                     if "torch" in rates else "-")
            table.append([setup, " / ".join(f"{r:.1f}" for r in rates[setup]), ratio, round(gflops),
                          f"{gflops / peaks['float32']:.0%}", f"{gflops / peaks['bfloat16']:.0%}", padded,
                          "-" if total is None else round(total)])
        print(records.markdown(columns, table))
        units = records.cpu_kind()
        tag = f"-{args.tag}" if args.tag else "-some" if args.setups else ""
        records.write("accelerators", f"{name}-{units}{tag}", kind="table", columns=columns, rows=table,
                      command=records.command_line(__file__, argv),
                      label=f"{name}, {model.unit}/s, {len(model.batches)} batches of {model.batch_size}, CPU bf16 "
                      f"units: {units} (matmul: f32 {peaks['float32']:.0f}, bf16 {peaks['bfloat16']:.0f} GFLOP/s)")
        sys.stdout.flush()
        if hasattr(model, "breakdown") and not args.setups:  # where a float32 step's time goes
            seconds = model.breakdown()
            step = sum(rows["tf dynamic"][-1][0])
            forward_flops = sum(model.flops(shape) for shape in rows["tf dynamic"][-1][1]) / 3
            print(f"\nfloat32 dynamic, seconds a pass: forward {seconds['forward']:.1f} "
                  f"({forward_flops / seconds['forward'] / 1e9:.0f} GFLOP/s), forward + backward "
                  f"{seconds['forward + backward']:.1f}, full training step (fit, with AdamW) {step:.1f}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
