"""Training runs resume after a kill and end exactly where an uninterrupted run ends."""
import json
import re
import signal
import time

import numpy as np
import pytest

from tfbert import files, runs, train
from tfbert.keras import keras, tf
from tfbert.train import RunLog, best_epoch, fit

from conftest import run_cli, start_cli, write_ag_news_csv


def logs(val_accuracy):
    return {"loss": 1.0 - val_accuracy, "accuracy": val_accuracy, "val_loss": 1.0, "val_accuracy": val_accuracy}


def run_epochs(log, start, scores):
    for epoch, score in enumerate(scores, start=start):
        log.on_epoch_begin(epoch)
        log.on_epoch_end(epoch, logs(score))
        if log.model.stop_training:
            return epoch


@pytest.fixture
def model():
    model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])
    model.stop_training = False
    return model


def test_the_history_the_best_weights_and_early_stopping(tmp_path, model):
    log = RunLog(tmp_path, patience=2)
    log.set_model(model)
    stopped_at = run_epochs(log, 0, [0.5, 0.7, 0.6, 0.65, 0.9])
    assert stopped_at == 3  # epochs 2 and 3 did not beat epoch 1
    history = files.read_json(tmp_path / runs.HISTORY)
    assert [row["epoch"] for row in history] == [0, 1, 2, 3]
    assert {"loss", "val_accuracy", "seconds", "train_seconds"} <= set(history[0])
    assert log.best_epoch() == 1
    assert (tmp_path / "best").is_dir()


def test_a_lower_is_better_monitor(tmp_path, model):
    log = RunLog(tmp_path, monitor="loss", mode="min", patience=1)
    log.set_model(model)
    assert run_epochs(log, 0, [0.5, 0.7, 0.6]) == 2  # loss = 1 - score: 0.5, 0.3, 0.4
    assert log.best_epoch() == 1


def test_without_validation_batches_a_validation_monitor_is_refused_and_epoch_keeps_the_last(tmp_path, model):
    model.compile("sgd", "mse")
    batches = tf.data.Dataset.from_tensor_slices((np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32))).batch(2)
    with pytest.raises(ValueError, match="'val_accuracy' needs validation batches"):
        fit(model, batches, None, tmp_path, epochs=2)
    history = fit(model, batches, None, tmp_path, epochs=2, monitor="epoch", verbose=0)
    assert [row["epoch"] for row in history] == [0, 1] and best_epoch(history, "epoch") == 1


def test_a_resumed_log_forgets_epochs_the_backup_did_not_reach_and_keeps_counting_patience(tmp_path, model):
    first = RunLog(tmp_path, patience=2)
    first.set_model(model)
    run_epochs(first, 0, [0.5, 0.7, 0.6])  # killed after epoch 2 was logged but before its backup
    resumed = RunLog(tmp_path, patience=2)
    resumed.set_model(model)
    assert run_epochs(resumed, 2, [0.6, 0.6]) == 3  # epoch 2 redone; patience counts from epoch 1
    assert [row["epoch"] for row in files.read_json(tmp_path / runs.HISTORY)] == [0, 1, 2, 3]


def test_a_backup_ahead_of_the_history_is_refused(tmp_path, model):
    log = RunLog(tmp_path)
    log.set_model(model)
    run_epochs(log, 0, [0.5])
    with pytest.raises(RuntimeError, match="logs 1 epochs before epoch 3"):
        RunLog(tmp_path).on_epoch_begin(3)


@pytest.mark.slow
def test_a_run_stopped_by_ctrl_c_says_where_it_resumes_and_ends_like_an_uninterrupted_run(tmp_path):
    write_ag_news_csv(tmp_path / "offline_train.csv", 3000, seed=1)  # big enough for epochs of ~1 s
    write_ag_news_csv(tmp_path / "offline_test.csv", 200, seed=2)
    common = ["--data-dir", tmp_path, "--variants", "scratch", "--preset", "tiny", "--epochs", "4", "--seed", "7", "--verbose", "0"]

    code, _, stderr = run_cli(*common, "--out", tmp_path / "straight")
    assert code == 0, stderr[-3000:]

    run_dir = tmp_path / "killed" / "scratch"
    process = start_cli(*common, "--out", tmp_path / "killed")
    deadline = time.time() + 300
    while not (run_dir / "backup" / "chief" / "checkpoint").exists():  # epoch 1 ended and was backed up
        assert process.poll() is None and time.time() < deadline, "the run ended before it could be stopped"
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)  # Ctrl-C
    _, stderr = process.communicate()
    assert process.returncode == 130 and "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]  # TensorFlow may warn before it
    resumes = re.fullmatch(rf"interrupted; the same command resumes {run_dir} from epoch (\d)", last)
    assert resumes, stderr[-3000:]
    logged = len(files.read_json(run_dir / runs.HISTORY))
    assert 1 <= logged < 4 and not (run_dir / runs.METRICS).exists()

    code, stdout, stderr = run_cli(*common[:-1], "2", "--out", tmp_path / "killed")  # --verbose 2: a line an epoch
    assert code == 0, stderr[-3000:]
    assert re.findall(r"^Epoch (\d)/4$", stdout, re.M)[0] == resumes.group(1)  # where the message said
    straight = tmp_path / "straight" / "scratch"
    for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert [r[name] for r in files.read_json(run_dir / runs.HISTORY)] == \
               [r[name] for r in files.read_json(straight / runs.HISTORY)], name
    resumed, uninterrupted = (json.loads((d / runs.METRICS).read_text()) for d in (run_dir, straight))
    assert resumed["test_accuracy"] == uninterrupted["test_accuracy"]
    assert resumed["test_loss"] == uninterrupted["test_loss"]
    np.testing.assert_array_equal(*(np.loadtxt(d / runs.PREDICTIONS, delimiter=",", skiprows=1, usecols=(2,))
                                    for d in (run_dir, straight)))


def test_the_trainer_counts_global_batches_and_reads_the_epoch_from_the_optimizer(model):
    from tfbert import distribute
    strategy = distribute.get_strategy("mirrored", devices=["/cpu:0", "/cpu:1"])
    assert train.Trainer(strategy, batch_size=5, examples=101, epochs=3).steps_per_epoch == 11  # 101 / 10, rounded up
    static = train.Trainer(strategy, batch_size=5, examples=101, epochs=3, compute=train.Compute(jit_compile=True))
    assert (static.static_shapes, static.steps_per_epoch, static.dropped_per_epoch) == (True, 10, 1)  # full batches
    trainer = train.Trainer(tf.distribute.get_strategy(), batch_size=5, examples=101, epochs=3, max_steps=4)
    assert (trainer.global_batch_size, trainer.steps_per_epoch, trainer.total_steps) == (5, 4, 12)
    trainer.compile(model, lr=1e-3, loss="mse")
    assert int(trainer.epoch()) == 0
    trainer.step.assign(9)  # nine optimizer steps: the third epoch is next
    assert int(trainer.epoch()) == 2
    assert trainer.header() == {"strategy": "_DefaultDistributionStrategy", "replicas": 1, "global_batch_size": 5,
                                "compute": {"precision": "float32", "jit_compile": False, "steps_per_execution": 1,
                                            "pad_multiple": 16, "static_shapes": False, "dropped_per_epoch": 0}}
    assert trainer.pad_lengths(64) is None and static.pad_lengths(40) == (16, 32, 40)
    assert train.Compute().identity() == {} and train.Compute(steps_per_execution=4).identity() == {}
    assert train.Compute("mixed_bfloat16", True).identity() == {"precision": "mixed_bfloat16", "jit_compile": True}
    with pytest.raises(ValueError, match="precision must be one of float32, mixed_float16, mixed_bfloat16"):
        train.Compute("bfloat16")
