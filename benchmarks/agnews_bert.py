"""Accuracy of the pretrained-BERT variants on the offline AG News split, with the benchmark settings.

    python benchmarks/agnews_bert.py --seeds 0 1 2 --variants hub_finetune hf_finetune
    python benchmarks/agnews_bert.py --seeds 0 --variants hub_frozen --pooling pooled

Runs `python -m experiments.agnews --full` once per seed (each run resumable: start it again after a
kill), then prints test accuracy per variant and seed, and the mean and standard deviation.
Peer (plain PyTorch + HF, same data and weights, 3 seeds): fine-tuned 0.900, frozen pooled 0.810.
"""
import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tfbert import runs  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=["hub_frozen", "hf_frozen", "hub_finetune", "hf_finetune"])
    parser.add_argument("--pooling", default="mean")
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "ag_news"))
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "benchmarks" / "agnews_bert")
    args, extra = parser.parse_known_args()
    for seed in args.seeds:
        out = args.out / f"{args.pooling}-seed{seed}"
        command = [sys.executable, "-m", "experiments.agnews", "--full", "--data-dir", args.data_dir, "--seed", str(seed),
                   "--pooling", args.pooling, "--verbose", "2", "--out", str(out), "--variants", *args.variants, *extra]
        print("$", " ".join(command), flush=True)
        subprocess.run(command, cwd=ROOT, check=True)
    print(f"\npooling (hub variants): {args.pooling}")
    print("| variant | " + " | ".join(f"seed {s}" for s in args.seeds) + " | mean ± sd | train examples/s |")
    print("|---|" + "---|" * (len(args.seeds) + 2))
    for variant in args.variants:
        metrics = [runs.read_json(args.out / f"{args.pooling}-seed{s}" / variant / runs.METRICS) for s in args.seeds]
        accuracies = np.array([m["test_accuracy"] for m in metrics])
        speed = np.mean([m["train_examples_per_second"] for m in metrics])
        print(f"| {variant} | " + " | ".join(f"{a:.4f}" for a in accuracies)
              + f" | {accuracies.mean():.4f} ± {accuracies.std(ddof=1) if len(accuracies) > 1 else 0:.4f} | {speed:.1f} |")


if __name__ == "__main__":
    main()
