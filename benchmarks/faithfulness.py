"""Benchmark: which word attributions are faithful to the model (ERASER comprehensiveness and sufficiency).

For the first --texts test texts of a run (its predictions.csv), each explainer of `tfbert.interpret.attributions` scores
every word for the predicted class; then the top 10/20/50 % of words are removed (comprehensiveness: the drop in
the class's probability, higher = more faithful) or kept alone (sufficiency: the drop, lower = more faithful).

    python benchmarks/faithfulness.py --run runs/agnews/hf_finetune --texts 200
    python benchmarks/faithfulness.py --run runs/cola/tuned --texts 200
"""
import argparse
import time
from pathlib import Path

import records
from tfbert import errors, evaluate, files, interpret, runs
from tfbert.interpret import attributions


def table(results: dict) -> tuple[list, list]:
    """(columns, rows): an explainer a row, the most comprehensive first."""
    percents = attributions.PERCENTS
    columns = ["explainer", *(f"comp. {p} %" for p in percents), "comp. mean", *(f"suff. {p} %" for p in percents),
               "suff. mean", "s / text"]
    rows = [[method, *(round(r["comprehensiveness"][p], 3) for p in percents), round(r["comprehensiveness_mean"], 3),
             *(round(r["sufficiency"][p], 3) for p in percents), round(r["sufficiency_mean"], 3),
             round(r["seconds_per_text"], 2)]
            for method, r in sorted(results.items(), key=lambda item: -item[1]["comprehensiveness_mean"])]
    return columns, rows


@errors.command
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="an HF or scratch run directory")
    parser.add_argument("--texts", type=int, default=200, help="test texts explained (default: 200)")
    parser.add_argument("--explainers", nargs="+", default=list(attributions.EXPLAINERS))
    parser.add_argument("--shap-evals", type=int, default=300, help="SHAP's model evaluations per text")
    parser.add_argument("--lime-samples", type=int, default=300, help="LIME's perturbed texts per text")
    parser.add_argument("--out", type=Path, help="JSON results (default: RUN/faithfulness.json)")
    args = parser.parse_args(argv)

    texts, _, _ = evaluate.read_predictions(args.run / runs.PREDICTIONS)
    words = attributions.WordExplainer(interpret.from_run(args.run), args.shap_evals, args.lime_samples)
    started = time.time()

    def report(method, scores):
        print(f"{method}: {scores['seconds_per_text']:.2f} s a text, {time.time() - started:.0f} s so far", flush=True)

    results = attributions.faithfulness(words, texts[: args.texts], args.explainers, report=report)
    files.write_json(args.out or args.run / "faithfulness.json", results)
    print(f"{args.run}: {args.texts} test texts, SHAP {args.shap_evals} evaluations and LIME {args.lime_samples} "
          f"samples per text, {time.time() - started:.0f} s in all\n")
    columns, rows = table(results)
    print(records.markdown(columns, rows))
    config = runs.read_config(args.run)
    records.write("faithfulness", f"{config.experiment}-{args.run.name}", kind="table", columns=columns, rows=rows,
                  label=f"{config.experiment} {args.run.name}, {args.texts} texts", command=records.command_line(
                      __file__, argv))


if __name__ == "__main__":
    main()
