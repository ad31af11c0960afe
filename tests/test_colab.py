"""The Colab install from the registry, without Colab: each pin has a release for Colab's Pythons, the TPU install
resolves to one TensorFlow build, and the first cell runs twice in a Python that has what a Colab runtime has."""
import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest

from tfbert import notebook

from conftest import REGISTRY, ROOT, run_notebook

NOTEBOOKS = ROOT / "notebooks"


@pytest.mark.slow
@pytest.mark.skipif(not REGISTRY, reason="no package registry reachable")
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
    if not REGISTRY:
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
        colab_like, tmp_path, tiny_bert_dir, hub_cache, monkeypatch):
    """The agnews notebook's smoke run, with test_notebooks.py's checks (conftest.NOTEBOOK_CHECKS), runs here only
    when a Colab-like runtime can be built."""
    versions = "import importlib.metadata as m; print(*(m.version(n) for n in ('transformers', 'kernels')))"
    assert subprocess.run([colab_like, "-c", versions], capture_output=True, text=True).stdout.split()[0] == "5.25.0"
    cells = nbformat.read(NOTEBOOKS / "agnews.ipynb", as_version=4).cells
    cell = next(c for c in cells if c.cell_type == "code").source
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

    kernels = tmp_path / "jupyter" / "kernels" / "colab_like"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(colab_like), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab-like", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))  # papermill's kernel lookup reads it
    monkeypatch.setenv("TFBERT_CACHE", str(hub_cache))  # the tests' one export
    run_notebook("agnews", tmp_path / "notebook", {"ENCODER": str(tiny_bert_dir)}, kernel="colab_like")


@pytest.mark.slow
@pytest.mark.skipif(not REGISTRY, reason="no package registry reachable: cannot check the Colab install set")
@pytest.mark.parametrize("python", ["3.12", "3.13"])
def test_every_package_colab_installs_has_a_release_for_colabs_python(python, tmp_path):
    """Checks, without installing, that each pin of the notebooks' Colab install set (and of the stack Colab ships,
    but for tensorflow itself, 620 MB) has a Linux wheel for `python`, or, for a pure-Python package published as a
    source archive only (lime), that archive. A whole-set resolution with --only-binary would fail on `promise`,
    an sdist-only dependency of tensorflow-datasets: the pins are resolved alone (--no-deps), from the registry's
    metadata (--dry-run: no wheel is downloaded)."""
    pins = [pin for pin in notebook.pins(notebook.COLAB_LACKS | notebook.NO_DEPS | notebook.COLAB_HAS)
            if not pin.startswith("tensorflow==")]
    sdists = [pin for pin in pins if pin.split("==")[0] in notebook.SDIST_ONLY]
    wheels = [pin for pin in pins if pin not in sdists]
    common = ["--python-version", python, "--implementation", "cp", "--quiet", "--no-deps"]
    linux = ["--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_17_x86_64"]
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", *common, *linux,
                           "--only-binary=:all:", "--target", str(tmp_path / "target"),
                           "--report", str(tmp_path / "report.json"), *wheels],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]  # pip names the pin without a wheel
    report = json.loads((tmp_path / "report.json").read_text())
    chosen = {f"{item['metadata']['name'].lower().replace('_', '-')}=={item['metadata']['version']}"
              for item in report["install"]}
    assert chosen == set(wheels)
    assert all(item["download_info"]["url"].endswith(".whl") for item in report["install"])
    for pin in sdists:
        done = subprocess.run([sys.executable, "-m", "pip", "download", *common, "--no-binary=:all:",
                               "-d", str(tmp_path / pin), pin], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
