"""Accuracy of the pretrained-BERT variants on the offline AG News split, with the benchmark settings.

    python benchmarks/agnews_bert.py --seeds 0 1 2 --variants hub_finetune hf_finetune
    python benchmarks/agnews_bert.py --seeds 0 --variants hub_frozen --pooling pooled
    python benchmarks/agnews_bert.py --quick --variants hf_finetune --precision mixed_bfloat16   # make run's settings
    python benchmarks/agnews_bert.py --quick --variants hf_finetune --precision mixed_bfloat16 --tag avx512_bf16

Runs `python -m experiments.agnews --full` (with --quick: the defaults `make run` uses) once per seed (each run
resumable: start it again after a kill), then prints test accuracy per variant and seed, and the mean and
standard deviation.
Peer (plain PyTorch + HF, same data and weights, 3 seeds): fine-tuned 0.900, frozen pooled 0.810.
"""
import argparse
from pathlib import Path

from tfbert import errors

import records
from seeds import ROOT, record, run_seeds, table


PEER = {"label": "PyTorch + HF peer", "seeds": [0.898, 0.901, 0.902]}
PEER_FROZEN = {"label": "peer, frozen, pooled output", "seeds": [0.810]}


@errors.command
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=["hub_frozen", "hf_frozen", "hub_finetune", "hf_finetune"])
    parser.add_argument("--pooling", choices=("mean", "pooled"),
                        help="the hub variants' pooling (default: the experiment's, mean frozen and pooled fine-tuned)")
    parser.add_argument("--quick", action="store_true", help="the make-run settings: 2,000 training texts, 1 "
                        "fine-tuning epoch (default: --full)")
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "ag_news"))
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "benchmarks" / "agnews_bert")
    parser.add_argument("--tag", type=records.tag,
                        help="end the record's name in -TAG (e.g. the CPU's kind, beside another CPU's)")
    args, extra = parser.parse_known_args(argv)
    extra += ["--pooling", args.pooling] if args.pooling else []
    named = (["--quick"] if args.quick else []) + extra + ([args.tag] if args.tag else [])  # names records and runs
    out = args.out / ("-".join(str(a).lstrip("-") for a in named) or "default")
    run_seeds("experiments.agnews", args.seeds, out, [*([] if args.quick else ["--full"]), "--data-dir", args.data_dir,
                                                       "--verbose", "2", "--variants", *args.variants, *extra])
    print(table(out, args.seeds, args.variants, ["test_accuracy"]))
    record("agnews_bert", out, args.seeds, args.variants, "test_accuracy", {}, named,
           records.command_line(__file__, argv),
           peer={variant: PEER_FROZEN if "frozen" in variant else PEER for variant in args.variants})


if __name__ == "__main__":
    main()
