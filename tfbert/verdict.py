"""Type a sentence, get a verdict: a trained CoLA run as a command-line prompt or a notebook widget.

    python -m experiments.cola predict --model runs/cola/tuned                  # prompt; Ctrl-D ends
    echo "The cat sat on the mat." | python -m experiments.cola predict --model runs/cola/tuned

    from tfbert.verdict import widget; widget("runs/cola/tuned")               # in a notebook

The run's raw-string SavedModel (`saved_model/`, tokenizer inside) does the work; no training code is loaded.
"""
import argparse
import sys
from pathlib import Path

from tfbert import errors, runs, serving
from tfbert.data.rows import decode_typed

# Characters kept of a very long line before tokenizing: more than `max_length` word pieces can hold (a piece
# covers at most 100 characters, WordPiece's longest word, and a space), so the cut never changes the verdict.
CHARACTERS_PER_PIECE = 101


class Judge:
    """Sentence -> "acceptable (p = 0.93)"-style verdicts from a trained run directory."""

    def __init__(self, run_dir):
        run_dir = Path(run_dir)
        if not (run_dir / "saved_model" / "saved_model.pb").is_file():
            raise FileNotFoundError(f"no trained model in {run_dir} (expected {run_dir / 'saved_model'}); "
                                    "train one with: python -m experiments.cola")
        self.serve = serving.load(run_dir / "saved_model")
        self.max_length = runs.read_config(run_dir).recipe["max_length"]

    def __call__(self, sentence: str) -> str:
        text = sentence.strip()
        if not text:
            return "(empty: type a sentence)"
        pieces = self.max_length - 2  # [CLS] and [SEP] take two
        outputs = self.serve([text[:CHARACTERS_PER_PIECE * self.max_length]])  # the model keeps its first pieces
        name = outputs["class_name"].numpy()[0].decode()
        probability = float(outputs["probabilities"].numpy()[0, outputs["label"].numpy()[0]])
        note = f" (judged on its first {pieces} word pieces only)" if len(text.split()) > pieces else ""
        return f"{name} (p = {probability:.2f}){note}"


def widget(run_dir):
    """A text box, a button and an output line that shows the verdict (ipywidgets, for notebooks)."""
    import ipywidgets as widgets

    judge = Judge(run_dir)
    box = widgets.Text(placeholder="Type a sentence", layout=widgets.Layout(width="60%"))
    button = widgets.Button(description="Judge", button_style="primary")
    output = widgets.HTML()

    def show(_):
        output.value = f"<b>{judge(box.value)}</b>"

    button.on_click(show)
    return widgets.VBox([widgets.HBox([box, button]), output])


def main(argv=None):
    """The `predict` command: a line in, a verdict out. Bytes that are not UTF-8 are replaced and counted, not fatal."""
    parser = argparse.ArgumentParser(prog="python -m experiments.cola predict",
                                     description="Judges sentences, typed or piped one per line, as acceptable or not.")
    parser.add_argument("--model", required=True, type=Path, help="a CoLA run directory, e.g. runs/cola/tuned")
    errors.add_debug_option(parser)
    args = parser.parse_args(argv)
    try:
        judge = Judge(args.model)
    except FileNotFoundError as e:
        raise errors.UserError(e) from None
    interactive = sys.stdin.isatty()
    if interactive:
        print("Type a sentence and press Enter (Ctrl-D to quit).")
    not_utf8 = 0
    for number, raw in enumerate(iter(lambda: _read_line(interactive), b""), start=1):
        line, problem = decode_typed(raw)
        if problem:
            not_utf8 += 1
            print(f"warning: line {number}: {problem}; judged with it replaced by \ufffd", file=sys.stderr)
        print(judge(line) if interactive else f"{judge(line)}\t{line.strip()}", flush=True)
    if not_utf8:
        print(f"{not_utf8} line(s) had bytes that are not UTF-8 (replaced by \ufffd)", file=sys.stderr)


def _read_line(interactive: bool) -> bytes:
    if interactive:
        print("sentence> ", end="", flush=True)
    return sys.stdin.buffer.readline()
