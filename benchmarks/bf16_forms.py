"""Benchmark: MiniLM's training step with each of tfbert's bfloat16 forms on and off, and AdamW's update in four forms.

tfbert gives HF's layers four forms under mixed_bfloat16 (tfbert/layers/bfloat16.py): GELU and LayerNorm in float32
with their gradients written out, each compiled by XLA, dropout masks from 16 random bits an element, and the Dense
layers' bias gradients summed by a matmul. This times MiniLM's fine-tuning step
(benchmarks/accelerators.py's batches and timing: the second of two passes) with
    float32                           the reference (no form applies)
    bf16, HF's forms                  none of them
    bf16, one form                    the GELU, dropout, bias or LayerNorm form alone
    bf16, all forms but LayerNorm     the other three
    bf16, all forms                   what tfbert trains with
    bf16, GELU form without XLA       all forms, GELU's arithmetic in TensorFlow's own kernels (sixteen of them)
    bf16, float32 dropout mask        all forms, the dropout mask from a float32 random number an element
and AdamW's update, in float32 and bf16 (all forms):
    scatter into the slots            Keras' own sparse update of the word embeddings, which puts their slots in
                                      TensorFlow's copy-on-read mode (tfbert adds the rows to tensors: the same numbers)
    XLA update                        each variable's update (weight decay + Adam) compiled with XLA
    dense embedding gradient          the word-embedding gradient made dense: the fused Adam kernel
The last two change float32's rounding, so tfbert would keep them only for a clear gain.
The setups run one after another, --repeats times, interleaved; "setup + 2 passes s" shows what the first pass costs
(tracing, and compiling where XLA is used). The record is benchmarks/results/profile/forms-UNITS.json, UNITS the CPU's
bfloat16 units (amx_bf16, avx512_bf16): CPUs of each kind keep a record.

    python benchmarks/bf16_forms.py --steps 12 --repeats 2
"""
import argparse
import functools
import statistics
import sys
import time
from pathlib import Path

import accelerators  # benchmarks/accelerators.py: the model and its batches
import records
from official.nlp import optimization
from tfbert import cli, errors, optim, train
from tfbert.keras import keras, tf
from tfbert.layers import bfloat16
from tfbert.models import bert

ROOT = Path(__file__).resolve().parents[1]
BF16 = train.Compute("mixed_bfloat16")
FORMS = {"GELU": "gelu", "dropout": "dropout", "bias": "bias", "LayerNorm": "layer_norm"}  # for_bfloat16's switches
SETUPS = {  # name: (Compute, forms for for_bfloat16, other form: see `use`)
    "float32": (train.Compute(), {}, None),
    "bf16, HF's forms": (BF16, dict.fromkeys(FORMS.values(), False), None),
    **{f"bf16, {name} form": (BF16, {other: other == form for other in FORMS.values()}, None)
       for name, form in FORMS.items()},
    "bf16, all forms but LayerNorm": (BF16, {"layer_norm": False}, None),
    "bf16, all forms (tfbert)": (BF16, {}, None),
    "bf16, GELU form without XLA": (BF16, {}, "unfused gelu"),
    "bf16, float32 dropout mask": (BF16, {}, "float32 mask"),
    "float32, scatter into the slots": (train.Compute(), {}, "scatter"),
    "bf16, scatter into the slots": (BF16, {}, "scatter"),
    "float32, XLA update": (train.Compute(), {}, "xla"),
    "bf16, XLA update": (BF16, {}, "xla"),
    "float32, dense embedding gradient": (train.Compute(), {}, "dense"),
    "bf16, dense embedding gradient": (BF16, {}, "dense"),
}
ADAMW = optim.AdamWeightDecay  # tfbert's, whose per-variable updates the forms replace
APPLY_DENSE, APPLY_SPARSE, APPLY = ADAMW._resource_apply_dense, ADAMW._resource_apply_sparse, ADAMW.apply_gradients
SCATTER = optimization.AdamWeightDecay._resource_apply_sparse  # Keras' own sparse update (scatters into the slots)
GELU, DROPOUT = bfloat16.float32_gelu, bfloat16.sixteen_bit_dropout


@tf.custom_gradient
def unfused_gelu(x):
    """tfbert's GELU form as it was before XLA: `bfloat16.float32_gelu`'s arithmetic in TensorFlow's own element-wise
    kernels, Phi(x) kept from the forward pass for the gradient."""
    x32 = tf.cast(x, tf.float32)
    cdf = 0.5 * (1.0 + tf.math.erf(x32 * bfloat16.SQRT_HALF))  # Phi(x)

    def gradient(dy):
        with tf.name_scope("gelu_gradient"):
            pdf = bfloat16.INV_SQRT_2PI * tf.exp(-0.5 * tf.square(x32))  # phi(x)
            return tf.cast(tf.cast(dy, tf.float32) * (cdf + x32 * pdf), x.dtype)

    return tf.cast(x32 * cdf, x.dtype), gradient


def float32_mask_dropout(layer, inputs, training=None):
    """tfbert's dropout form as it was before 16-bit masks: a float32 random number an element (32 random bits)."""
    if not training or layer.rate == 0 or inputs.dtype == tf.float32:
        return keras.layers.Dropout.call(layer, inputs, training)
    keep = tf.random.uniform(tf.shape(inputs), dtype=tf.float32, seed=layer.seed) >= layer.rate  # shaped like inputs
    return inputs * tf.cast(tf.cast(keep, tf.float32) / (1 - layer.rate), inputs.dtype)


# Two functions, not one with *args: the legacy optimizer passes `apply_state` only to methods naming it in their
# signature.
def xla_dense(self, grad, var, apply_state=None):
    """AdamW's update of one variable (weight decay, then Adam), compiled with XLA into one kernel."""
    def update(grad):
        APPLY_DENSE(self, grad, var, apply_state)
        return tf.constant(0)  # a result to depend on
    return tf.function(update, jit_compile=True)(grad)


def xla_sparse(self, grad, var, indices, apply_state=None):
    """The same for a sparse (embedding) gradient."""
    def update(grad, indices):
        APPLY_SPARSE(self, grad, var, indices, apply_state)
        return tf.constant(0)
    return tf.function(update, jit_compile=True)(grad, indices)


def dense_gradients(self, grads_and_vars, name=None, experimental_aggregate_gradients=True):
    """`apply_gradients` with `IndexedSlices` (the embeddings' gradients) made dense tensors."""
    grads_and_vars = [(tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g, v) for g, v in grads_and_vars]
    return APPLY(self, grads_and_vars, name, experimental_aggregate_gradients)


def use(forms: dict, form: str | None):
    """Builds the next model with `forms` (keyword arguments of `for_bfloat16`) and `form` (None: tfbert's own):
    GELU without XLA, the float32 dropout mask, or one of AdamW's update forms."""
    bert.for_bfloat16 = functools.partial(bfloat16.for_bfloat16, **forms)
    bfloat16.float32_gelu = unfused_gelu if form == "unfused gelu" else GELU
    bfloat16.sixteen_bit_dropout = float32_mask_dropout if form == "float32 mask" else DROPOUT
    ADAMW._resource_apply_dense = xla_dense if form == "xla" else APPLY_DENSE
    ADAMW._resource_apply_sparse = {"xla": xla_sparse, "scatter": SCATTER}.get(form, APPLY_SPARSE)
    ADAMW.apply_gradients = dense_gradients if form == "dense" else APPLY


@errors.command
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--steps", type=cli.positive_int, default=12, help="batches per pass (default: 12)")
    parser.add_argument("--repeats", type=cli.positive_int, default=2)
    args = parser.parse_args(argv)
    model = accelerators.load("minilm", args.data_dir, args.steps)
    seconds, total = {}, {}  # setup: [ms a step, each repeat]; setup: seconds of the last repeat's build + 2 passes
    for repeat in range(args.repeats):
        for setup, (compute, forms, form) in SETUPS.items():
            use(forms, form)
            started = time.perf_counter()
            steps, _ = model.tf_steps(compute)
            total[setup] = time.perf_counter() - started
            seconds.setdefault(setup, []).append(1e3 * sum(steps) / len(steps))
            print(f"{repeat} {setup}: {seconds[setup][-1]:.0f} ms a step", flush=True)
    use({}, None)
    reference = {"float32": statistics.median(seconds["float32"]),
                 "bf16": statistics.median(seconds["bf16, all forms (tfbert)"])}
    columns = ["setup", "ms a step (each repeat)", "examples/s", "vs float32", "vs bf16, all forms",
               "setup + 2 passes s"]
    rows = []
    for setup, values in seconds.items():
        median = statistics.median(values)
        rows.append([setup, " / ".join(f"{v:.0f}" for v in values), round(model.batch_size * 1e3 / median, 1),
                     f"{reference['float32'] / median:.2f}x", f"{reference['bf16'] / median:.2f}x", round(total[setup])])
    print(records.markdown(columns, rows))
    units = records.cpu_kind()
    records.write("profile", f"forms-{units}", kind="table", columns=columns, rows=rows,
                  command=records.command_line(__file__, sys.argv[1:] if argv is None else argv),
                  label=f"MiniLM fine-tuning step, {len(model.batches)} batches of {model.batch_size}, bfloat16 forms on "
                        f"and off (CPU bf16 units: {units})")


if __name__ == "__main__":
    main()
