"""BENCHMARKS.md and README's results block are what the committed records give, and every number in them has a
record that says how it was measured."""
import json
import re

from benchmarks import records, report

from conftest import ROOT


def tasks():
    return json.loads((records.RESULTS / "tasks.json").read_text())


def test_benchmarks_md_and_the_readme_block_are_generated_from_the_committed_records():
    committed = records.load()
    assert (ROOT / "BENCHMARKS.md").read_text() == report.render(tasks(), committed)
    readme = (ROOT / "README.md").read_text()
    assert readme == report.readme_with(report.headline(tasks(), committed), readme)
    assert report.headline(tasks(), committed) in readme


def test_every_record_says_what_was_run_where_and_when_and_the_page_stays_a_reference():
    for record in records.load():
        where = f"{record['task']}/{record['name']}"
        assert record["command"].startswith(("python", "TFBERT_")), where
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", record["date"]), where
        assert record["machine"]["cpu"] and "shared_cpu" in record["machine"], where
        assert record["provenance"], where
        assert record["kind"] == "table" or record["values"], where
    text = (ROOT / "BENCHMARKS.md").read_text()
    assert text.count("\n") <= 260
    assert not re.search(r"\b(session|issue)s?\b", text, re.I)
    assert {task["task"] for task in tasks()} == {record["task"] for record in records.load()}


def test_a_rerun_replaces_its_record_and_the_page_shows_the_new_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(records, "RESULTS", tmp_path)
    for accuracy in (0.81, 0.83):
        records.write("agnews_scratch", "tfbert-scratch", kind="seeds", label="scratch", command="python x.py",
                      metric="test_accuracy", values={"0": accuracy, "1": accuracy + 0.01}, extra={})
    written = records.load(tmp_path)
    assert [record["values"] for record in written] == [{"0": 0.83, "1": 0.84}]
    assert written[0]["machine"]["cores"] >= 1 and written[0]["provenance"] == "measured"
    page = report.render([{"task": "agnews_scratch", "title": "T", "target": "t", "findings": []}], written)
    assert "| scratch | 0.8300 / 0.8400 (seeds 0, 1) | **0.8350 ± 0.0071** |" in page
