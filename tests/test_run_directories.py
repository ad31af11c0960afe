"""Commands run again on a run directory, as a user runs them: nothing finished is lost or mixed with another run."""
import shutil
import signal
import time

import pytest

from tfbert import files, runs

from conftest import SCRATCH_CLI, run_cli, run_main, start_cli, write_ag_news_csv
from experiments import agnews
from conftest import snapshot

TINY = ["--variants", "scratch", "--preset", "tiny", "--verbose", "0"]


@pytest.mark.slow
def test_a_finished_run_is_not_trained_again_and_another_run_is_refused_unless_overwritten(scratch_cli_run, ag_news_dir,
                                                                                          tmp_path, capsys):
    shutil.copytree(scratch_cli_run[0], tmp_path, dirs_exist_ok=True)  # SCRATCH_CLI's finished run
    common = ["--data-dir", ag_news_dir, *SCRATCH_CLI, "--out", tmp_path]
    run_dir = tmp_path / "scratch"
    finished = snapshot(run_dir)

    code, stdout, stderr = run_main(agnews.main, *common, capsys=capsys)
    assert code == 0, stderr[-3000:]
    assert "this run has finished already, not trained again" in stdout and "| scratch |" in stdout
    assert snapshot(run_dir) == finished

    code, stdout, stderr = run_main(agnews.main, *common, "--epochs", "1", "--lr", "3e-3", capsys=capsys)  # the last of a repeated option counts
    assert code != 0 and "Traceback" not in stderr
    assert stderr.strip() == (f"error: {run_dir} holds another run (recipe.epochs 2 -> 1, recipe.lr 0.005 -> 0.003): "
                              "train it elsewhere (--out DIR) or replace it (--overwrite)")
    assert snapshot(run_dir) == finished

    code, stdout, stderr = run_main(agnews.main, *common, "--epochs", "1", "--lr", "3e-3", "--overwrite", capsys=capsys)
    assert code == 0, stderr[-3000:]
    assert len(files.read_json(run_dir / runs.HISTORY)) == 1
    assert files.read_json(run_dir / runs.IDENTITY)["identity"]["recipe"]["epochs"] == 1


@pytest.mark.slow
def test_a_second_process_stops_at_once_and_a_killed_run_is_neither_mixed_with_another_nor_locked(tmp_path):
    write_ag_news_csv(tmp_path / "offline_train.csv", 3000, seed=1)  # epochs of ~1 s
    write_ag_news_csv(tmp_path / "offline_test.csv", 200, seed=2)
    common = ["--data-dir", tmp_path, *TINY, "--out", tmp_path / "out", "--epochs", "60"]
    run_dir = tmp_path / "out" / "scratch"
    first = start_cli(*common)
    deadline = time.time() + 300
    while not (run_dir / runs.HISTORY).exists():  # training: epoch 1 is logged
        assert first.poll() is None and time.time() < deadline, first.communicate()[1][-3000:]
        time.sleep(0.05)

    code, _, stderr = run_cli(*common)  # the same command in a second terminal
    assert first.poll() is None, "the first run ended before the second one started: make its epochs longer"
    assert code != 0 and "Traceback" not in stderr
    assert f"error: {run_dir} is in use by another process (pid {first.pid})" in stderr

    first.send_signal(signal.SIGKILL)
    first.wait()
    killed = snapshot(run_dir)
    code, _, stderr = run_cli(*common[:-2], "--epochs", "2")  # another run into the unfinished one's directory
    assert code != 0 and "Traceback" not in stderr
    assert stderr.strip().startswith(f"error: {run_dir} holds another run (recipe.epochs 60 -> 2)")
    assert snapshot(run_dir) == killed

    code, _, stderr = run_cli(*common[:-2], "--epochs", "2", "--overwrite")  # the killed process's lock blocks nothing
    assert code == 0, stderr[-3000:]
    assert [row["epoch"] for row in files.read_json(run_dir / runs.HISTORY)] == [0, 1]
