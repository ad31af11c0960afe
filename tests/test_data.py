"""AG News reading: every bad row names its file and line, or is skipped and counted; splits are fixed."""
import numpy as np
import pytest

from tfbert.data import BadRowError, OfflineError, SkippedRows, ag_news, online
from tfbert.data.rows import read_rows
from tfbert.data.splits import Split, carve_validation

from conftest import SHARED_DATA

GOOD = b'"3","Wall St. Bears Claw Back","Short-sellers are seeing green again."\n'


def write(tmp_path, body: bytes, name="offline_train.csv"):
    path = tmp_path / name
    path.write_bytes(body)
    return path


def test_a_good_row_becomes_title_space_description_with_a_zero_based_label(tmp_path):
    split = ag_news.read_csv(write(tmp_path, GOOD))
    assert split.texts == ["Wall St. Bears Claw Back Short-sellers are seeing green again."]
    assert split.labels.tolist() == [2]


@pytest.mark.parametrize("bad_line, reason", [
    (b'"3","only a title"\n', "expected 3 columns"),
    (b'"3","a","b","c"\n', "expected 3 columns"),
    (b'"5","title","description"\n', "class index '5'"),
    (b'"0","title","description"\n', "class index '0'"),
    (b'"x","title","description"\n', "class index 'x'"),
    (b'"2"," ",""\n', "empty text"),
    (b'"2","caf\xe9","latin-1, not UTF-8"\n', "not UTF-8"),
    (b'\n', "found 0"),
])
def test_a_bad_row_raises_an_error_naming_the_file_and_line(tmp_path, bad_line, reason):
    path = write(tmp_path, GOOD + GOOD + bad_line + GOOD)
    with pytest.raises(BadRowError, match=reason) as error:
        ag_news.read_csv(path)
    assert str(error.value).startswith(f"{path}:3: ")
    assert (error.value.path, error.value.line) == (str(path), 3)


def test_skip_bad_rows_skips_counts_and_keeps_the_rest(tmp_path):
    path = write(tmp_path, GOOD + b'"9","t","d"\n' + GOOD + b'"1","\xff",""\n')
    skipped = SkippedRows()
    split = ag_news.read_csv(path, skip_bad_rows=True, skipped=skipped)
    assert len(split) == 2
    assert len(skipped) == 2
    summary = skipped.summary()
    assert summary["count"] == 2
    assert summary["first"][0].startswith(f"{path}:2: ") and summary["first"][1].startswith(f"{path}:4: ")


def test_line_numbers_stay_right_after_a_quoted_field_that_spans_lines(tmp_path):
    path = write(tmp_path, b'"1","two\nline title","d"\n' + b'"7","t","d"\n')
    with pytest.raises(BadRowError) as error:
        ag_news.read_csv(path)
    assert error.value.line == 3


def test_an_unclosed_quote_is_a_bad_row_not_a_crash(tmp_path):
    with pytest.raises(BadRowError, match=r":\d+: "):
        read_rows(write(tmp_path, b'"1","t","d\n' + b"x" * 200_000), ag_news.parse_row)


def test_the_folder_must_hold_a_train_and_test_pair(tmp_path):
    write(tmp_path, GOOD, "offline_train.csv")
    with pytest.raises(FileNotFoundError, match="offline_train.csv \\+ offline_test.csv"):
        ag_news.split_files(tmp_path)
    write(tmp_path, GOOD, "offline_test.csv")
    assert [p.name for p in ag_news.split_files(tmp_path)] == ["offline_train.csv", "offline_test.csv"]
    write(tmp_path, GOOD, "train.csv"), write(tmp_path, GOOD, "test.csv")
    assert [p.name for p in ag_news.split_files(tmp_path)] == ["train.csv", "test.csv"]  # the full split wins


def test_offline_without_a_folder_fails_at_once_naming_what_to_pass(monkeypatch):
    monkeypatch.delenv(ag_news.DATA_DIR_VARIABLE, raising=False)
    with pytest.raises(OfflineError, match="--data-dir or TFBERT_DATA_DIR"):
        ag_news.load(offline=True)


def test_without_a_folder_or_network_tfds_is_never_asked(monkeypatch):
    monkeypatch.delenv(ag_news.DATA_DIR_VARIABLE, raising=False)
    monkeypatch.setattr(online, "is_reachable", lambda host, port=443: False)
    with pytest.raises(OfflineError, match="TFBERT_DATA_DIR"):
        ag_news.load()


def test_the_environment_variable_names_the_folder(monkeypatch, ag_news_dir):
    monkeypatch.setenv(ag_news.DATA_DIR_VARIABLE, str(ag_news_dir))
    assert ag_news.load().source == str(ag_news_dir)


def test_the_validation_split_is_fixed_disjoint_and_complete():
    train = Split([f"text {i}" for i in range(100)], np.arange(100) % 4)
    rest, validation = carve_validation(train, 0.1)
    again_rest, again_validation = carve_validation(train, 0.1)
    assert validation.texts == again_validation.texts and rest.texts == again_rest.texts
    assert len(validation) == 10 and len(rest) == 90
    assert sorted(rest.texts + validation.texts) == sorted(train.texts)


def test_a_validation_fraction_of_zero_trains_on_everything_and_out_of_range_fractions_are_refused():
    train = Split([f"text {i}" for i in range(100)], np.arange(100) % 4)
    rest, validation = carve_validation(train, 0)
    assert rest.texts == train.texts and len(validation) == 0
    for fraction in (-0.1, 1, 1.5):
        with pytest.raises(ValueError, match=r"validation fraction must be in \[0, 1\)"):
            carve_validation(train, fraction)


@pytest.mark.slow
def test_the_real_offline_split_loads_with_its_documented_sizes():
    data = ag_news.load(SHARED_DATA / "ag_news")
    assert data.sizes() == {"train": 5472, "validation": 608, "test": 1520}
    assert np.bincount(data.test.labels).tolist() == [357, 382, 401, 380]
    assert len(data.skipped) == 0
