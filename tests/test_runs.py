"""Run directories never lose or mix work: atomic files, a run's identity, one process per directory."""
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tfbert import files, runs

from conftest import snapshot, ROOT

IDENTITY = {"experiment": "agnews", "variant": "scratch", "epochs": 2, "model": {"embed_dim": 12}, "data": "abc"}


def python(code: str, **kwargs) -> subprocess.Popen:
    """A Python process running `code` from the repository root (tfbert importable, TensorFlow not imported)."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def finished_run(run_dir, identity=IDENTITY):
    with runs.claim(run_dir, identity) as state:
        assert state == runs.NEW
        files.write_json(run_dir / runs.METRICS, {"test_accuracy": 0.5})
    return run_dir


def test_an_atomic_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with files.atomic(path) as tmp:
            tmp.write_text("half of the new")
            raise RuntimeError("killed")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_an_atomic_folder_replaces_the_old_folder_whole(tmp_path):
    (tmp_path / "saved_model" / "old").mkdir(parents=True)
    with files.atomic(tmp_path / "saved_model") as tmp:
        (tmp / "variables").mkdir(parents=True)
        (tmp / "saved_model.pb").write_bytes(b"new")
    assert sorted(p.name for p in (tmp_path / "saved_model").iterdir()) == ["saved_model.pb", "variables"]
    assert [p.name for p in tmp_path.iterdir()] == ["saved_model"]


def test_a_process_killed_while_writing_leaves_the_old_file_and_its_leftover_is_cleared_on_resume(tmp_path):
    run_dir = tmp_path / "run"
    with runs.claim(run_dir, IDENTITY):
        files.write_text(run_dir / "history.json", "[1]")
    process = python(f"""
        import os, signal
        from tfbert import files
        with files.atomic({str(run_dir / 'history.json')!r}) as tmp:
            tmp.write_text("[1, 2")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert (run_dir / "history.json").read_text() == "[1]"
    assert any(p.name.startswith(files.TEMPORARY) for p in run_dir.iterdir())
    with runs.claim(run_dir, IDENTITY) as state:
        assert state == runs.RESUME
    assert not any(p.name.startswith(files.TEMPORARY) for p in run_dir.iterdir())


def test_a_run_is_new_then_resumed_then_finished(tmp_path):
    run_dir = tmp_path / "run"
    assert runs.status(run_dir, IDENTITY) == runs.NEW
    with runs.claim(run_dir, IDENTITY) as state:
        assert state == runs.NEW
        assert files.read_json(run_dir / runs.IDENTITY) == {"identity": IDENTITY}
        files.write_json(run_dir / runs.HISTORY, [{"epoch": 0}])
    assert runs.status(run_dir, IDENTITY) == runs.RESUME
    files.write_json(run_dir / runs.METRICS, {})
    assert runs.status(run_dir, IDENTITY) == runs.FINISHED


def test_another_run_is_refused_naming_the_settings_that_differ_and_nothing_is_touched(tmp_path):
    run_dir = finished_run(tmp_path / "run")
    before = snapshot(run_dir)
    other = {**IDENTITY, "epochs": 3, "model": {"embed_dim": 32}}
    with pytest.raises(runs.RunConflict) as refused:
        with runs.claim(run_dir, other):
            pytest.fail("claimed")
    message = str(refused.value)
    assert message.startswith(f"{run_dir} holds another run (epochs 2 -> 3, model.embed_dim 12 -> 32)")
    assert "--out DIR" in message and "--overwrite" in message and "\n" not in message
    assert snapshot(run_dir) == before


def test_a_folder_of_other_files_is_refused_and_overwrite_empties_it(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    with pytest.raises(runs.RunConflict, match="holds files but no run.json"):
        runs.status(tmp_path / "run", IDENTITY)
    with runs.claim(tmp_path / "run", IDENTITY, overwrite=True) as state:
        assert state == runs.NEW
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [runs.LOCK, runs.IDENTITY]


def test_a_finished_run_is_claimed_as_finished_without_changing_a_file(tmp_path):
    run_dir = finished_run(tmp_path / "run")
    before = snapshot(run_dir)
    with runs.claim(run_dir, IDENTITY) as state:
        assert state == runs.FINISHED
    assert snapshot(run_dir) == before


def test_a_second_process_on_a_run_directory_stops_at_once_and_a_killed_holder_blocks_nobody(tmp_path):
    run_dir = tmp_path / "run"
    holder = python(f"""
        import time
        from tfbert import runs
        with runs.claim({str(run_dir)!r}, {IDENTITY!r}):
            print("holding", flush=True)
            time.sleep(120)
    """)
    assert holder.stdout.readline().strip() == "holding"
    started = time.time()
    with pytest.raises(runs.RunLocked, match=rf"{run_dir} is in use by another process \(pid {holder.pid}\)"):
        with runs.claim(run_dir, IDENTITY):
            pytest.fail("claimed a directory another process holds")
    assert time.time() - started < 5
    holder.send_signal(signal.SIGKILL)
    holder.communicate(timeout=60)
    with runs.claim(run_dir, IDENTITY) as state:  # the lock file is still there, its lock is not
        assert state == runs.RESUME


def test_config_json_is_written_and_read_through_the_run_config_schema(tmp_path):
    config = runs.RunConfig("agnews", "scratch", "scratch Transformer (tiny)", class_names=["a", "b"],
                            model={"embed_dim": 12}, data={"train": 3}, class_counts=[2, 1], global_batch_size=8)
    runs.write_config(tmp_path, config)
    assert runs.read_config(tmp_path) == config
    files.write_json(tmp_path / runs.CONFIG, {"variant": "scratch", "learning_rate": 0.1})
    with pytest.raises(ValueError, match=rf"{tmp_path / runs.CONFIG}: not a tfbert run config \(unknown: \['learning_rate'\]\)"):
        runs.read_config(tmp_path)
