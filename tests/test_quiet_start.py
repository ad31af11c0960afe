"""TensorFlow starts quietly on a machine without a GPU, unless the user asks for its messages."""
import os
import subprocess
import sys

import pytest

from tfbert import devices, keras as tfbert_keras

from conftest import ROOT

LIST_DEVICES = "import tfbert.keras as k; print(k.tf.config.list_physical_devices())"


def stderr_of(code, **env):
    variables = {name: value for name, value in os.environ.items()
                 if name not in ("TF_CPP_MIN_LOG_LEVEL", tfbert_keras.DEFAULT_MARK)}  # as a user's shell has them
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**variables, **env}, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stderr


@pytest.mark.slow
@pytest.mark.skipif(devices.has_nvidia_driver(), reason="this machine has an NVIDIA driver: TF finds no CUDA error to hide")
def test_the_cuda_probe_s_error_is_hidden_by_default_and_shown_when_the_user_sets_the_log_level():
    asked = stderr_of(LIST_DEVICES, TF_CPP_MIN_LOG_LEVEL="2")
    if "cuInit" not in asked:
        pytest.skip("this TensorFlow build prints no CUDA probe error here")
    assert "cuInit" not in stderr_of(LIST_DEVICES)


def test_other_messages_of_the_device_probe_still_show(capfd):
    def probe():
        os.write(2, b"E cuda_platform.cc:51] failed call to cuInit: UNKNOWN ERROR (303)\n"
                    b"W some_kernel.cc:1] a real warning\n")
    devices.probe_quietly(probe)
    assert capfd.readouterr().err == "W some_kernel.cc:1] a real warning\n"
