"""Strategies by name; a mirrored run over two logical CPUs; two workers on 127.0.0.1."""
import argparse
import json
import socket

import pytest

from experiments import agnews
from tfbert import classify, cli, distribute, files, runs
from tfbert.data import ag_news
from tfbert.keras import tf

from conftest import start_cli


def test_an_unknown_strategy_fails_naming_the_choices():
    with pytest.raises(ValueError, match="unknown strategy 'gpu'; choose one of auto, cpu, mirrored, tpu, multi_worker"):
        distribute.get_strategy("gpu")


def test_tpu_and_multi_worker_fail_at_once_when_their_hardware_or_cluster_is_missing(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(RuntimeError, match="needs TF_CONFIG"):
        distribute.get_strategy("multi_worker")
    monkeypatch.setattr(distribute, "_tpu_resolver", lambda: None)
    with pytest.raises(RuntimeError, match="no TPU found"):
        distribute.get_strategy("tpu")


def test_a_tpu_this_tensorflow_cannot_drive_stops_tpu_with_the_install_command_and_auto_falls_back(
        monkeypatch, tmp_path, capsys):
    """A TPU VM's device file, with this machine's real TensorFlow (no TPU kernels): what Colab's TPU runtime gives."""
    (tmp_path / "accel0").touch()
    monkeypatch.setattr(distribute, "TPU_DEVICE_FILES", (str(tmp_path / "accel*"),))
    monkeypatch.delenv("TPU_NAME", raising=False)
    monkeypatch.delenv("COLAB_TPU_ADDR", raising=False)
    with pytest.raises(distribute.StrategyError) as error:
        distribute.get_strategy("tpu")
    message = str(error.value)
    assert "\n" not in message and "cannot use it" in message
    assert f"pip uninstall -y tensorflow && pip install tensorflow-tpu=={tf.__version__} libtpu==0.0.14" in message
    capsys.readouterr()
    assert distribute.get_strategy("auto") is tf.distribute.get_strategy()
    warning = capsys.readouterr().err
    assert warning.startswith("warning: this machine has a TPU") and "Going on without the TPU." in warning
    with pytest.raises(SystemExit, match="^error: this machine has a TPU"):  # what the experiments print
        cli.strategy(argparse.Namespace(strategy="tpu"))


def test_auto_on_a_machine_without_accelerators_is_the_default_strategy():
    assert distribute.get_strategy("auto") is tf.distribute.get_strategy()
    assert distribute.is_chief(distribute.get_strategy("auto"))


@pytest.mark.slow
def test_mirrored_over_two_cpus_trains_with_the_global_batch_split_across_replicas(ag_news_dir, tmp_path):
    strategy = distribute.get_strategy("mirrored", devices=["/cpu:0", "/cpu:1"])
    args = agnews.parse_args(["--variants", "scratch", "--preset", "tiny", "--epochs", "2", "--batch-size", "8", "--lr", "5e-3", "--verbose", "0"])
    metrics = classify.run(agnews.recipe(args, "scratch"), ag_news.load(ag_news_dir), strategy, tmp_path, verbose=0)
    config = files.read_json(tmp_path / runs.CONFIG)
    assert (config["replicas"], config["global_batch_size"]) == (2, 16)
    assert len(files.read_json(tmp_path / runs.HISTORY)) == 2
    assert metrics["test_accuracy"] > 0.5  # the synthetic task is easy; chance is 0.25


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_workers_on_this_machine_train_together_and_both_finish(ag_news_dir, tmp_path):
    workers = [f"127.0.0.1:{free_port()}" for _ in range(2)]
    processes = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        processes.append(start_cli(  # started together, waited for below
            "--strategy", "multi_worker", "--variants", "scratch", "--preset", "tiny", "--epochs", "2", "--verbose", "0",
            "--data-dir", ag_news_dir, "--out", tmp_path / f"worker{index}", env={"TF_CONFIG": tf_config}))
    outputs = [p.communicate(timeout=300) for p in processes]
    for process, (stdout, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
    assert "| scratch |" in outputs[0][0]  # the chief prints the table
    assert files.read_json(tmp_path / "worker0" / "scratch" / runs.CONFIG)["replicas"] == 2


def test_a_cpu_is_recommended_bfloat16_only_where_it_has_bfloat16_units(tmp_path):
    from tfbert import devices, notebook
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 amx_tile amx_bf16\n")
    assert devices.bf16_units(devices.cpu_flags(cpuinfo)) == "amx_bf16"
    assert devices.bf16_units({"avx512_bf16"}) == "avx512_bf16" and devices.bf16_units(set()) is None
    assert devices.cpu_flags(tmp_path / "no such file") == set()
    strategy = tf.distribute.get_strategy()
    assert notebook.recommended_precision(strategy, {"amx_bf16", "avx512_bf16"}) == "mixed_bfloat16"
    assert notebook.recommended_precision(strategy, {"avx512_bf16"}) == "mixed_bfloat16"
    assert notebook.recommended_precision(strategy, {"avx512f", "avx2"}) == "float32"  # bfloat16 would be emulated
