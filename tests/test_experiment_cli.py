"""`python -m experiments.agnews` as a user runs it: help, offline failures, a full small run, bad rows."""
import shutil
import time

import numpy as np
import pytest

from tfbert import files, report, runs

from conftest import SHARED_DATA, csv_probabilities, run_cli, run_main, serve_with_plain_tensorflow
from experiments import agnews

NO_DATA_DIR = {"TFBERT_DATA_DIR": ""}


def test_help_lists_the_options(capsys):
    code, stdout, _ = run_main(agnews.main, "--help", capsys=capsys)
    assert code == 0
    for option in ("--variants", "--data-dir", "--offline", "--epochs", "--batch-size", "--seed", "--strategy",
                   "--out", "--skip-bad-rows"):
        assert option in stdout


@pytest.mark.slow
def test_offline_without_a_data_folder_fails_within_seconds_naming_what_to_pass():
    started = time.time()
    code, _, stderr = run_cli("--offline", env=NO_DATA_DIR)
    assert code != 0 and "--data-dir or TFBERT_DATA_DIR" in stderr
    assert time.time() - started < 60  # TensorFlow's import is most of it; no network wait


@pytest.mark.slow
def test_a_small_run_prints_the_table_and_writes_the_run_directory(scratch_cli_run, ag_news_dir, tmp_path):
    out, stdout = scratch_cli_run
    assert "| variant | model | encoder | trainable / total params | test accuracy |" in stdout
    assert "| scratch | scratch Transformer (tiny) |" in stdout
    run_dir = out / "scratch"
    for name in (runs.CONFIG, runs.HISTORY, runs.METRICS, runs.PREDICTIONS, "learning_curves.png",
                 "confusion_matrix.png", "model.keras", "vocab.txt", "model.tflite", "saved_model/saved_model.pb"):
        assert (run_dir / name).is_file(), name
    from tfbert import serving
    texts, expected = csv_probabilities(run_dir / runs.PREDICTIONS, 8)
    served = serving.load(run_dir / "saved_model")(texts)  # raw strings in
    assert abs(served["probabilities"].numpy() - expected).max() < 1e-5
    (served,), modules = serve_with_plain_tensorflow([run_dir / "saved_model"], texts, cwd=tmp_path)
    assert abs(np.array(served) - expected).max() < 1e-5
    assert not {"tfbert", "transformers", "tensorflow_hub"} & {name.split(".")[0] for name in modules}
    assert (out / "results.md").read_text().strip() in stdout
    assert (out / "accuracy.png").is_file()
    config = files.read_json(run_dir / runs.CONFIG)
    assert config["data"] == {"source": str(ag_news_dir), "train": 360, "validation": 40, "test": 80}
    assert config["model"]["embed_dim"] == 12 and config["args"]["seed"] == 0
    metrics = files.read_json(run_dir / runs.METRICS)
    assert metrics["test_examples"] == 80 and metrics["skipped_rows"]["count"] == 0
    assert metrics["test_accuracy"] > 0.5  # the synthetic task is easy; chance is 0.25


@pytest.mark.slow
def test_the_accelerator_switches_train_with_xla_in_bfloat16_and_say_so_in_the_table(ag_news_dir, tmp_path, capsys):
    switches = ["--jit-compile", "--precision", "mixed_bfloat16", "--steps-per-execution", "3", "--pad-multiple", "32"]
    code, stdout, stderr = run_main(agnews.main, "--data-dir", ag_news_dir, "--variants", "scratch", "--preset", "tiny",
                                    "--epochs", "2", "--verbose", "0", "--batch-size", "16", "--lr", "5e-3",
                                    "--out", tmp_path, *switches, capsys=capsys)
    assert code == 0, stderr[-3000:]
    assert "| scratch | scratch Transformer (tiny), mixed_bfloat16, XLA |" in stdout
    config = files.read_json(tmp_path / "scratch" / runs.CONFIG)
    assert config["compute"] == {"precision": "mixed_bfloat16", "jit_compile": True, "steps_per_execution": 3,
                                 "pad_multiple": 32, "static_shapes": True, "dropped_per_epoch": 360 % 16}
    metrics = files.read_json(tmp_path / "scratch" / runs.METRICS)
    assert metrics["test_examples"] == 80 and metrics["test_accuracy"] > 0.5  # every test text, scored once
    assert (tmp_path / "scratch" / "model.tflite").is_file()  # a float32 copy: TFLite has no bfloat16 kernels
    code, _, stderr = run_main(agnews.main, "--data-dir", ag_news_dir, "--variants", "scratch", "--preset", "tiny",
                               "--epochs", "2", "--verbose", "0", "--batch-size", "16", "--lr", "5e-3", "--out", tmp_path,
                               capsys=capsys)
    assert code != 0 and "precision" in stderr and "--overwrite" in stderr  # float32 is another run
    assert len(stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_the_report_is_redrawn_from_the_files_alone(scratch_cli_run, tmp_path):
    shutil.copytree(scratch_cli_run[0], tmp_path, dirs_exist_ok=True)
    for png in tmp_path.rglob("*.png"):
        png.unlink()
    assert report.render(tmp_path) == (tmp_path / "results.md").read_text().strip()
    assert {p.name for p in tmp_path.rglob("*.png")} == {"accuracy.png", "learning_curves.png",
                                                          "confusion_matrix.png"}


@pytest.mark.slow
def test_a_bad_row_stops_the_run_naming_the_file_and_line_unless_skipped(ag_news_dir, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "offline_test.csv").write_bytes((ag_news_dir / "offline_test.csv").read_bytes())
    lines = (ag_news_dir / "offline_train.csv").read_bytes().splitlines(keepends=True)
    (data / "offline_train.csv").write_bytes(b"".join(lines[:9] + [b'"8","bad","class"\n'] + lines[9:]))
    common = ["--data-dir", data, "--variants", "scratch", "--preset", "tiny", "--epochs", "1", "--verbose", "0", "--out", tmp_path / "out"]

    code, _, stderr = run_main(agnews.main, *common, capsys=capsys)
    assert code != 0 and f"error: {data / 'offline_train.csv'}:10: class index '8'" in stderr
    assert "Traceback" not in stderr

    code, stdout, stderr = run_main(agnews.main, *common, "--skip-bad-rows", capsys=capsys)
    assert code == 0, stderr[-3000:]
    assert "skipped 1 bad rows" in stdout
    skipped = files.read_json(tmp_path / "out" / "scratch" / runs.METRICS)["skipped_rows"]
    assert skipped["count"] == 1 and ":10: class index '8'" in skipped["first"][0]


@pytest.mark.slow
def test_the_textbook_model_learns_the_real_offline_split_in_one_epoch(tmp_path, capsys):
    code, stdout, stderr = run_main(agnews.main, "--data-dir", SHARED_DATA / "ag_news", "--variants", "scratch",
                                    "--preset", "textbook", "--epochs", "1", "--verbose", "0", "--weight-decay", "0.01",
                                    "--out", tmp_path, capsys=capsys)
    assert code == 0, stderr[-3000:]
    assert "Trainable params: 659592" in stdout  # the lesson's model, summarised as training starts
    metrics = files.read_json(tmp_path / "scratch" / runs.METRICS)
    assert metrics["test_examples"] == 1520 and metrics["test_accuracy"] > 0.6


@pytest.mark.slow
def test_without_a_data_folder_and_without_network_the_default_run_fails_within_seconds():
    from tfbert.data import online
    if online.is_reachable("storage.googleapis.com"):
        pytest.skip("the network is reachable here: this run would download AG News with tfds")
    started = time.time()
    code, _, stderr = run_cli(env=NO_DATA_DIR)
    assert code != 0 and "cannot be reached" in stderr and "TFBERT_DATA_DIR" in stderr
    assert time.time() - started < 60  # tfds' own retries would take ~205 s


@pytest.mark.slow
def test_the_variants_share_one_table_and_without_a_validation_split_train_on_every_text_keeping_the_last_epoch(
        ag_news_dir, tiny_bert_dir, hub_cache, tmp_path, capsys):
    code, stdout, stderr = run_main(
        agnews.main,
        "--data-dir", ag_news_dir, "--encoder", tiny_bert_dir, "--variants", "scratch", "hub_frozen", "hf_frozen",
        "hf_finetune", "--validation-fraction", "0", "--preset", "tiny", "--epochs", "2", "--head-epochs", "3",
        "--head-lr", "1e-2", "--finetune-epochs", "2", "--finetune-lr", "1e-3", "--bert-train-examples", "120",
        "--batch-size", "16", "--max-length", "32", "--verbose", "0", "--out", tmp_path, "--hub-cache", hub_cache,
        capsys=capsys)
    assert code == 0, stderr[-3000:]
    for variant, train_texts, epochs, trainable in (("scratch", 400, 2, None), ("hub_frozen", 120, 3, 84),
                                                    ("hf_frozen", 120, 3, 84), ("hf_finetune", 120, 2, None)):
        assert f"| {variant} |" in stdout
        metrics = files.read_json(tmp_path / variant / runs.METRICS)
        config = files.read_json(tmp_path / variant / runs.CONFIG)
        assert config["data"]["validation"] == 0 and config["data"]["train"] == train_texts
        assert metrics["test_examples"] == 80 and metrics["trainable_params"] == (trainable or metrics["total_params"])
        history = files.read_json(tmp_path / variant / runs.HISTORY)
        assert len(history) == epochs and not any(key.startswith("val_") for key in history[0])
        assert metrics["best_epoch"] == epochs - 1 and (tmp_path / variant / "learning_curves.png").is_file()
        if variant != "scratch":
            assert metrics["saved_model_max_abs_diff"] < 1e-5  # the raw-string SavedModel agrees with the model
    assert "Total params: 84" in stdout  # each run prints its model's summary as training starts
    assert (tmp_path / "hub_frozen" / "features.npz").is_file()  # frozen: features computed once, kept
    variants = ("hub_frozen", "hf_frozen", "hf_finetune")
    texts, _ = csv_probabilities(tmp_path / "hf_frozen" / runs.PREDICTIONS, 8)
    served, modules = serve_with_plain_tensorflow([tmp_path / v / "saved_model" for v in variants], texts, cwd=tmp_path)
    for variant, probabilities in zip(variants, served):
        assert abs(np.array(probabilities) - csv_probabilities(tmp_path / variant / runs.PREDICTIONS, 8)[1]).max() < 1e-5
    assert not {"tfbert", "transformers", "tensorflow_hub"} & {name.split(".")[0] for name in modules}
    assert files.read_json(tmp_path / "hub_frozen" / runs.CONFIG)["recipe"]["pooling"] == "mean"


def test_a_validation_fraction_outside_zero_to_one_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        agnews.parse_args(["--validation-fraction", "1"])
    assert "--validation-fraction must be in [0, 1), got 1.0" in capsys.readouterr().err


def test_the_hub_head_is_mean_pooling_when_frozen_and_pooled_output_when_fine_tuned_unless_chosen():
    default, chosen = agnews.parse_args([]), agnews.parse_args(["--pooling", "mean"])
    poolings = {variant: agnews.recipe(default, variant).pooling for variant in ("hub_frozen", "hub_finetune")}
    assert poolings == {"hub_frozen": "mean", "hub_finetune": "pooled"}
    assert agnews.recipe(chosen, "hub_finetune").pooling == "mean"


def test_the_command_line_sets_only_the_recipe_fields_of_its_kind_of_variant():
    args = agnews.parse_args(["--lr", "0.01", "--finetune-lr", "2e-5", "--head-epochs", "7", "--seed", "3"])
    scratch, finetune, frozen = (agnews.recipe(args, v) for v in ("scratch", "hf_finetune", "hf_frozen"))
    assert (scratch.lr, finetune.lr, frozen.lr) == (0.01, 2e-5, 1e-3)
    assert (scratch.epochs, finetune.epochs, frozen.epochs) == (15, 1, 7)  # the quick preset: 1 fine-tuning epoch
    assert (scratch.train_examples, finetune.train_examples) == (None, 2000)
    assert {scratch.seed, finetune.seed, frozen.seed} == {3}
    assert agnews.recipe(agnews.parse_args(["--full"]), "hf_finetune").epochs == 4


@pytest.mark.slow
def test_an_unknown_encoder_fails_at_once_with_the_choices(ag_news_dir, capsys):
    code, _, stderr = run_main(agnews.main, "--data-dir", ag_news_dir, "--encoder", "bert-huge",
                               "--variants", "hf_frozen", capsys=capsys)
    assert code != 0 and "unknown encoder 'bert-huge'; choose one of minilm_l6" in stderr and "Traceback" not in stderr

