"""CoLA: in-domain and out-of-domain dev MCC of the recipes, over seeds.

    python benchmarks/cola.py --seeds 0 1 2 --variants tuned mean
    python benchmarks/cola.py --seeds 0 --variants book frozen

Runs `python -m experiments.cola` once per seed (resumable), then prints MCC and accuracy per seed, mean ± sd.
Peer (plain PyTorch + HF, same data and weights, batch 32, length 64, 4 epochs, 10 % warmup, 3 seeds):
in-domain dev MCC 0.345 at lr 5e-5, 0.288 at lr 2e-5, frozen 0.0.
"""
import argparse
from pathlib import Path

from tfbert import errors

import records
from seeds import ROOT, record, run_seeds, table


PEER = {"label": "PyTorch + HF peer, lr 5e-5", "seeds": [0.313, 0.369, 0.353]}


@errors.command
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=["book", "tuned", "mean", "frozen"])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "cola"))
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "benchmarks" / "cola")
    args, extra = parser.parse_known_args(argv)
    run_seeds("experiments.cola", args.seeds, args.out,
              ["--data-dir", args.data_dir, "--verbose", "2", "--variants", *args.variants, *extra])
    print(table(args.out, args.seeds, args.variants,
                ["test_mcc", "out_of_domain_dev_mcc", "test_accuracy", "out_of_domain_dev_accuracy"]))
    record("cola", args.out, args.seeds, args.variants, "test_mcc", {"out-of-domain MCC": "out_of_domain_dev_mcc"},
           extra, records.command_line(__file__, argv), peer={variant: PEER for variant in args.variants})


if __name__ == "__main__":
    main()
