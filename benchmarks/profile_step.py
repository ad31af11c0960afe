"""Benchmark: where a training step's time goes, by kind of op, in float32 and mixed_bfloat16 (TensorFlow's profiler).

For each model of benchmarks/accelerators.py (the very same batches), each precision trains one pass over the
batches (tracing, warm-up), then a second pass under `tf.profiler`. The profile's framework op statistics
(every op's self time), with the XLA programs that ran inside the step (tfbert's bfloat16 GELU), are summed by class:
    matmul        MatMul, BatchMatMul, Einsum (oneDNN's fused forms too): the FLOPs the matmul rate counts
    softmax/mask  the attention softmax, the additive mask and their gradients
    layernorm     LayerNormalization's moments, normalisation and gradients
    gelu          the activation and its gradient
    dropout       masks drawn and applied, forward and backward
    cast          dtype casts (float32 <-> bfloat16 under the mixed policy)
    embedding     lookups and their gradients (scatter into the tables)
    optimizer     AdamW: the update of every weight, gradient clipping, the learning-rate schedule
    input         the iterator: batches handed to the step
    other         the rest (element-wise adds, reshapes, transposes, reductions, the loss)
and written as one record (benchmarks/results/profile/steps.json, with the machine's CPU flags): milliseconds a step
by class for each model and precision, and two what-ifs of the bf16 step (see CEILINGS) that say how far bf16 can get
while the rest of the step costs what it costs in float32; `python -m benchmarks.report` draws the record named
`steps` (benchmarks/results/profile.png).
`minilm-keras3` is MiniLM's step as the kerashub family trains it (Keras 3 on the TensorFlow backend, in a process of
its own), on the same batches, to set beside `minilm` (tf_keras and HF's TF BERT).

    python benchmarks/profile_step.py --models minilm scratch kantaibert --steps 8 40 3
    python benchmarks/profile_step.py --models minilm minilm-keras3 --steps 8 8 --name keras3
"""
import argparse
import glob
import json
import sys
import tempfile
import time
from pathlib import Path

import accelerators  # benchmarks/accelerators.py: the models and their batches
import records
from tfbert import cli, errors, train
from tfbert.keras import tf

ROOT = Path(__file__).resolve().parents[1]
PRECISIONS = ("float32", "mixed_bfloat16")
KERAS3 = "minilm-keras3"  # MiniLM's batches, trained as the kerashub family trains them
# What-ifs of the bf16 step's self time, beside float32's total: bf16's matmuls with the rest taking float32's time, and
# bf16's matmuls alone. Their ratios bound what bfloat16 can gain while the rest stays as fast as in float32 / if it
# took no time (an estimate: self time over-counts ops that overlap on the two cores).
CEILINGS = ("bf16 matmul + f32 rest", "bf16 matmul alone")
CLASSES = ("matmul", "softmax/mask", "layernorm", "gelu", "dropout", "cast", "embedding", "optimizer", "input",
           "other")
MATMULS = ("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum", "_MklMatMul", "_FusedMatMul",
           "_MklFusedMatMul", "_MklBatchMatMul", "_MklBatchMatMulV2", "_MklFusedBatchMatMulV2", "_MklEinsum")


def op_class(op_type: str, name: str) -> str:
    """The class (see the module docstring) of an op of `op_type` called `name` (its name scopes say where it is)."""
    lowered = name.lower()
    if op_type.startswith(("Iterator", "Dataset")) or op_type in ("OptionalGetValue", "OptionalHasValue"):
        return "input"
    # Keras asks for the gradients inside the optimizer's name scope ("AdamWeightDecay/gradients/..."): ops made there
    # (custom gradients, the sums of a weight's gradients) are the backward pass, not the update.
    backward = "/gradients/" in lowered
    if not backward and any(word in lowered for word in ("adamweightdecay", "adamw", "adam_w/", "/adam/",
                                                         "clip_by_global_norm", "polynomial", "warmup",
                                                         "learning_rate")) or op_type.startswith("ResourceApply"):
        return "optimizer"
    if op_type == "Cast":
        return "cast"
    if "dropout" in lowered:
        return "dropout"
    if "layernorm" in lowered or "layer_norm" in lowered:
        return "layernorm"
    if "gelu" in lowered or "intermediate_act_fn" in lowered or op_type in ("Erf", "Erfc"):
        return "gelu"
    if op_type in MATMULS:
        return "matmul"
    if op_type in ("Softmax", "SoftmaxGrad", "LogSoftmax") or "softmax" in lowered or "attention_mask" in lowered:
        return "softmax/mask"
    if "embedding" in lowered or op_type in ("ResourceGather", "GatherV2", "UnsortedSegmentSum",
                                             "ResourceScatterAdd", "SparseSegmentSum"):
        return "embedding"
    return "other"


def op_rows(xplane: str) -> list[tuple]:
    """(class, op type, op name, seconds of self time) of every op in a profile's framework op statistics."""
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin as plugin

    data, ok = plugin.xspace_to_tools_data([xplane], "framework_op_stats", {})
    if not ok:
        raise RuntimeError(f"{xplane}: the profiler could not read it")
    table = json.loads(data)[0]
    columns = [column["id"] for column in table["cols"]]
    rows = []
    for row in table["rows"]:
        cell = dict(zip(columns, (value.get("v") if value else None for value in row["c"])))
        if cell["type"] != "IDLE":
            rows.append((op_class(cell["type"], cell["operation"]), cell["type"], cell["operation"],
                         cell["total_self_time"] / 1e6))
    return rows


def xla_rows(xplane: str) -> list[tuple]:
    """(class, "XLA", module, seconds) of every XLA program that ran inside the profiled steps (tfbert's bfloat16 GELU,
    compiled alone): the framework op statistics leave them out. A program's time is that of its outermost events
    (an XLA kernel's events nest), and its module is named after the function it compiles."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    space.ParseFromString(Path(xplane).read_bytes())
    seconds = {}
    for plane in space.planes:
        names = plane.stat_metadata
        for line in plane.lines:
            end = 0  # of the last outermost XLA event on this thread
            for event in sorted(line.events, key=lambda e: e.offset_ps):
                module = next((names[s.ref_value].name for s in event.stats
                               if names[s.metadata_id].name == "hlo_module"), None)
                if module and event.offset_ps >= end:
                    end = event.offset_ps + event.duration_ps
                    seconds[module] = seconds.get(module, 0.0) + event.duration_ps / 1e12
    return [(op_class("XLA", module), "XLA", module, taken) for module, taken in seconds.items()]


def profile(model, batches) -> tuple[dict, float, list]:
    """({class: seconds}, wall seconds, `op_rows`) of the second of two passes over `batches`, that one profiled."""
    dataset = tf.data.Dataset.from_tensors(batches[0])
    for batch in batches[1:]:
        dataset = dataset.concatenate(tf.data.Dataset.from_tensors(batch))
    model.fit(dataset, epochs=1, verbose=0)  # traces and warms up
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        started = time.perf_counter()
        model.fit(dataset, epochs=1, verbose=0)
        wall = time.perf_counter() - started
        tf.profiler.experimental.stop()
        return by_class(logdir, wall)


def profile_keras3(model, precision) -> tuple[dict, float, list]:
    """`profile` of the kerashub family's step on `model`'s batches (Keras 3, TensorFlow backend, its own process)."""
    with tempfile.TemporaryDirectory() as logdir:
        done, _ = model.keras3_run("tensorflow", train.Compute(precision), profile=logdir)
        return by_class(logdir, done["wall"])


def by_class(logdir, wall) -> tuple[dict, float, list]:
    """({class: seconds}, `wall`, `op_rows`) of the one profile in `logdir`."""
    (xplane,) = glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)
    rows = op_rows(xplane) + xla_rows(xplane)
    seconds = dict.fromkeys(CLASSES, 0.0)
    for name, _, _, time_taken in rows:
        seconds[name] += time_taken
    return seconds, wall, rows


def columns_of(by_precision: dict, steps: int) -> list:
    """Milliseconds a step by class (then the total, then the profiled pass's wall clock) in float32 and bfloat16,
    and their ratio: three cells of each row of the table."""
    f32, bf16 = (by_precision[p][0] for p in PRECISIONS)
    cells = []
    for name in (*CLASSES, "total"):
        a, b = (sum(x.values()) if name == "total" else x[name] for x in (f32, bf16))
        cells.append([round(1e3 * a / steps, 1), round(1e3 * b / steps, 1), f"{a / b:.2f}x" if b else "-"])
    walls = [by_precision[p][1] for p in PRECISIONS]
    cells.append([round(1e3 * walls[0] / steps, 1), round(1e3 * walls[1] / steps, 1), f"{walls[0] / walls[1]:.2f}x"])
    total = sum(f32.values())
    for bf16_step in (bf16["matmul"] + total - f32["matmul"], bf16["matmul"]):  # the two what-ifs (CEILINGS)
        cells.append([round(1e3 * total / steps, 1), round(1e3 * bf16_step / steps, 1), f"{total / bf16_step:.2f}x"])
    return cells


@errors.command
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--models", nargs="+", choices=[*accelerators.MODELS, KERAS3],
                        default=list(accelerators.MODELS))
    parser.add_argument("--steps", nargs="+", type=cli.positive_int, default=[8, 40, 3],
                        help="batches per model, one number per --models entry, in order (default: 8 40 3)")
    parser.add_argument("--top", type=int, default=0, help="also print the N ops of most self time in each setup")
    parser.add_argument("--name", default="steps", help="the record's name (default: steps)")
    errors.add_debug_option(parser)
    args = parser.parse_args(argv)
    if len(args.steps) != len(args.models):
        parser.error(f"--steps gives {len(args.steps)} numbers for {len(args.models)} --models")
    f32, bf16 = accelerators.matmul_gflops(tf.float32), accelerators.matmul_gflops(tf.bfloat16)
    columns, rows = ["op class"], [[name] for name in (*CLASSES, "total", "wall clock (profiled pass)", *CEILINGS)]
    for name, steps in zip(args.models, args.steps):
        model = accelerators.load("minilm" if name == KERAS3 else name, args.data_dir, steps)
        by_precision = {}
        for precision in PRECISIONS:
            by_precision[precision] = profile_keras3(model, precision) if name == KERAS3 else \
                profile(*model.model_and_batches(train.Compute(precision)))
            for kind, op_type, op, taken in sorted(by_precision[precision][2], key=lambda r: -r[3])[:args.top]:
                print(f"{name} {precision}: {1e3 * taken / len(model.batches):8.1f} ms/step  {kind:>12}  {op_type:<22} {op}")
        columns += [f"{name} f32", f"{name} bf16", "f32 / bf16"]
        for row, cells in zip(rows, columns_of(by_precision, len(model.batches))):
            row += cells
    print(records.markdown(columns, rows))
    sizes = ", ".join(f"{name} {steps} steps" for name, steps in zip(args.models, args.steps))
    records.write("profile", args.name, kind="table", columns=columns, rows=rows,
                  label=f"ms per training step by kind of op (self time): {sizes} (matmul: f32 {f32:.0f}, bf16 "
                        f"{bf16:.0f} GFLOP/s)",
                  command=records.command_line(__file__, sys.argv[1:] if argv is None else argv))

if __name__ == "__main__":
    main()
