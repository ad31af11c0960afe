"""What accelerators this machine shows, and the TensorFlow build a TPU needs; no TensorFlow is imported here.

`distribute` (strategies) and `notebook` (the Colab install) both read it, so neither imports the other.
"""
import glob
import os
import re
import sys
import tempfile

TPU_DEVICE_FILES = ("/dev/accel*", "/dev/vfio/0")  # a TPU VM's chips (Colab's TPU runtimes)
# TensorFlow's TPU build of tfbert's TensorFlow, and the libtpu it declares (`libtpu~=0.0.14`): both on PyPI. It
# installs the same `tensorflow/` package as the plain build, so the two must never be installed together.
TPU_BUILD = {"tensorflow-tpu": "2.20.0", "libtpu": "0.0.14"}


def has_tpu(device_files=TPU_DEVICE_FILES) -> bool:
    """Whether this machine shows a TPU VM's chips."""
    return any(glob.glob(pattern) for pattern in device_files)


def tpu_install_command() -> str:
    """What to run where the plain TensorFlow build is installed on a TPU machine."""
    pins = " ".join(f"{name}=={version}" for name, version in TPU_BUILD.items())
    return f"pip uninstall -y tensorflow && pip install {pins} (in a notebook: tfbert.notebook.install())"


def cpu_flags(cpuinfo="/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags (`lscpu`'s Flags), empty where the file is not there (macOS, Windows)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def bf16_units(flags=None) -> str | None:
    """The CPU's bfloat16 matmul units: "amx_bf16" (Intel's AMX tiles), "avx512_bf16" (AVX-512 dot products), or
    None (bfloat16 is emulated, slower than float32)."""
    flags = cpu_flags() if flags is None else flags
    return next((unit for unit in ("amx_bf16", "avx512_bf16") if unit in flags), None)


# Whether the user left TensorFlow's C++ messages to tfbert; child processes inherit tfbert's choice with its mark.
DEFAULT_MARK = "TFBERT_DEFAULT_TF_CPP_MIN_LOG_LEVEL"
# What the CUDA build of TensorFlow prints when it looks for a GPU on a machine without an NVIDIA driver.
CUDA_PROBE = re.compile(r"failed call to cuInit|Could not find cuda drivers|CUDA_ERROR_NO_DEVICE")


def has_nvidia_driver() -> bool:
    return os.path.exists("/proc/driver/nvidia/version") or bool(glob.glob("/dev/nvidia*"))


def probe_quietly(probe):
    """Calls `probe` (TensorFlow's first look for devices, which probes CUDA) with C++'s stderr caught; repeats all
    but the CUDA probe's lines."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            probe()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        caught.seek(0)
        for line in caught.read().decode(errors="replace").splitlines(keepends=True):
            if not CUDA_PROBE.search(line):
                sys.stderr.write(line)
