"""Benchmark: KantaiBERT MLM pretraining, tfbert (TF) vs plain PyTorch + HF, same batches, same CPU.

Both sides train the book's model (RoBERTa, 6 layers, 12 heads, 83,504,416 parameters) from scratch on
the same masked batches of 64 Kant lines (drawn by tfbert's tf.data pipeline, saved to an .npz), with
AdamW, lr 5e-5, linear decay over the book's 787-step epoch, no warmup; then both score the same
held-out batches. A full epoch is hours on 2 cores, so `--steps` cuts both sides at the same step.
Reports tokens/s (steps after the first, which includes graph tracing) and the held-out MLM loss.

The PyTorch peer runs in its own venv, from the local wheel:
    python3 -m venv .venv-torch && .venv-torch/bin/pip install torch==2.13.0 transformers==4.54.1 tokenizers==0.21.4 numpy
    python benchmarks/kantaibert_vs_torch.py --steps 40 --data-dir ../shared/data/kant
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

import records
from tfbert import errors, optim
from tfbert.data import bpe, kant, mlm
from tfbert.keras import keras, tf
from timing import step_timer  # benchmarks/timing.py
from tfbert.models import kantaibert
from transformers import TFRobertaForMaskedLM


@errors.command
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data" / "kant")
    parser.add_argument("--size", choices=sorted(kantaibert.PRESETS), default="book")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--torch-python", type=Path, default=ROOT / ".venv-torch" / "bin" / "python")
    parser.add_argument("--out", type=Path, default=None, help="default: runs/bench/kantaibert-SIZE")
    args = parser.parse_args(argv)
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)  # before TensorFlow starts
    config, seed, batch_size, lr = kantaibert.PRESETS[args.size], 0, 64, 5e-5
    args.out = args.out or ROOT / "runs" / "bench" / f"kantaibert-{args.size}"

    train_lines, held_out_lines = kant.read_corpus(args.data_dir)
    tokenizer = bpe.tokenizer_for(Path(args.out) / "tokenizer", train_lines, config.vocab_size,
            config.max_position_embeddings - 2)
    masking = dict(pad_id=tokenizer.pad_token_id, mask_id=tokenizer.mask_token_id, vocab_size=tokenizer.vocab_size,
                   special_ids=tokenizer.all_special_ids)
    train_batches = mlm.mlm_batches(bpe.encode(tokenizer, train_lines, config.block_size), batch_size, seed, lambda: 0,
                                    max_batches=args.steps, **masking)
    train = list(train_batches)  # the pipeline is deterministic: fit below sees these same batches
    held_out = list(mlm.mlm_batches(bpe.encode(tokenizer, held_out_lines, config.block_size), batch_size, seed,
                                    lambda: -1, **masking))
    schedule_steps = optim.train_steps(len(train_lines), batch_size, epochs=1)
    setup = {"seed": seed, "threads": args.threads, "lr": lr, "schedule_steps": schedule_steps,
             "train_batches": len(train), "held_out_batches": len(held_out),
             "model": {k: v for k, v in vars(config).items() if k != "block_size"}}
    arrays = {f"{split}{i}_{key}": value.numpy() for split, batches in (("train", train), ("held_out", held_out))
              for i, batch in enumerate(batches) for key, value in batch.items()}
    npz = args.out / "batches.npz"
    np.savez(npz, setup=json.dumps(setup), **arrays)

    results = {}
    for name, model_class in [("tfbert KantaiBert (chosen tokens only)", kantaibert.KantaiBert),
                              ("TF, HF's TFRobertaForMaskedLM step", TFRobertaForMaskedLM)]:
        tf.keras.utils.set_random_seed(seed)  # the same initial weights for both
        model = kantaibert.build_model(config, model_class)
        model.compile(optim.create_adamw(lr, schedule_steps, 0, weight_decay=0.0))
        timer = step_timer(keras)
        model.fit(train_batches, epochs=1, verbose=0, callbacks=[timer])  # one trace for all batch shapes
        held_out_loss = float(np.mean([float(tf.reduce_mean(model(b, training=False).loss)) for b in held_out]))
        results[f"{name} (TF {tf.__version__})"] = {"step_seconds": timer.seconds, "mean_train_loss": timer.last_loss,
                                                     "held_out_loss": held_out_loss}

    peer = subprocess.run([str(args.torch_python), str(ROOT / "benchmarks" / "torch_peer_mlm.py"), str(npz)],
                          check=True, capture_output=True, text=True)
    results["PyTorch {} + HF RobertaForMaskedLM"] = json.loads(peer.stdout.strip().splitlines()[-1])

    tokens = [int(np.sum(b["attention_mask"])) for b in train]
    def tokens_per_second(result):  # steps after the first (graph tracing, warm-up)
        return sum(tokens[1:]) / sum(result["step_seconds"][1:])
    print(f"\n### KantaiBERT MLM ({args.size}, {len(train)} steps of {batch_size} lines, {date.today()}, "
          f"{platform.machine()}, {args.threads} threads)\n")
    ours, hf_step, peer = (tokens_per_second(r) for r in results.values())
    columns = ["framework", "tokens/s", "s/step (median)", "mean train loss", "held-out MLM loss", "vs torch"]
    rows = [[name.format(result.get("torch")), round(tokens_per_second(result)),
             round(statistics.median(result["step_seconds"][1:]), 2), round(result["mean_train_loss"], 3),
             round(result["held_out_loss"], 3), f"{tokens_per_second(result) / peer:.2f}x"]
            for name, result in results.items()]
    print(records.markdown(columns, rows))
    print(f"\ntokens/s ratios: tfbert / PyTorch {ours / peer:.2f}x, TF HF step / PyTorch {hf_step / peer:.2f}x, "
          f"tfbert / TF HF step {ours / hf_step:.2f}x")
    records.write("kantaibert", f"speed-{args.size}-{len(train)}-steps", kind="table", columns=columns, rows=rows,
                  label=f"the {args.size} RoBERTa, {len(train)} steps on the same masked batches",
                  command=records.command_line(__file__, argv))


if __name__ == "__main__":
    main()
