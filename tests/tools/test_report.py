"""The full-course report (cvae-course report), tried on tiny synthetic lessons, never on the real ones."""

import argparse
import json

import nbformat
import numpy as np
import pytest

from cvae_course import settings
from cvae_course.tools import ROOT, report

README = ROOT / "README.md"


def _cell(source, *tags):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = list(tags)
    return cell


def _lesson(path, *cells):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# a lesson"), *cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def course_run(tmp_path_factory):
    """Three synthetic lessons run once: one with every kind of outcome, one whose kernel dies, one that is fine."""
    folder = tmp_path_factory.mktemp("lessons")
    data = folder / "tiny-mnist.npz"
    labels = np.arange(300) % 10
    np.savez(
        data,
        x_train=np.zeros((300, 28, 28), np.uint8),
        y_train=labels,
        x_test=np.zeros((50, 28, 28), np.uint8),
        y_test=labels[:50],
    )
    everything = _lesson(
        folder / "00_everything.ipynb",
        _cell(
            "import os, sys, time\nprint(os.environ['CVAE_COURSE_FAST'], os.listdir(os.environ['CVAE_COURSE_CACHE']))",
            "nbval-check-output",
        ),
        _cell("time.sleep(0.5)  # stands for training.train(...)", "train"),
        _cell(
            "from cvae_course.claims import claim\n"
            "claim('one is one', 1 == 1, measured=1)\n"
            "claim('the model reads every digit', False, measured=0.71, full_only=True)",
            "claim",
        ),
        _cell("1 / 0"),
        _cell("time.sleep(60)"),
        _cell("print('a warning', file=sys.stderr)"),
        _cell("print('still running after the errors')"),
    )
    dies = _lesson(folder / "01_dies.ipynb", _cell("import os\nos._exit(1)"), _cell("print('never')"))
    fine = _lesson(
        folder / "02_fine.ipynb", _cell("from cvae_course.claims import claim\nclaim('two is two', 2 == 2)", "claim")
    )
    lines = []
    with pytest.MonkeyPatch.context() as env:
        env.setenv(settings.DATA_ENV, str(data))
        env.setenv(settings.FAST_ENV, "1")  # the report must set the lessons' mode itself
        result = report.run([everything, dies, fine], cell_timeout=4, executed=folder / "executed", log=lines.append)
    return result, folder, lines


def test_the_report_runs_every_lesson_in_full_mode_from_an_empty_cache(course_run):
    result, _, _ = course_run
    first = result.lessons[0].cells[0]
    assert result.mode == "full" and result.cache == "empty at the start"
    assert [lesson.name for lesson in result.lessons] == ["00_everything", "01_dies", "02_fine"]
    assert first.errors == [] and first.tags == ["nbval-check-output"]


def test_the_kernel_sees_full_mode_and_an_empty_cache(course_run):
    _, folder, _ = course_run
    executed = nbformat.read(folder / "executed" / "00_everything.ipynb", as_version=4)
    assert executed.cells[1].outputs[0]["text"] == "0 []\n"


def test_the_training_set_size_comes_from_the_data_file(course_run):
    result, folder, _ = course_run
    assert (result.train_size, result.test_size) == (300, 50)
    assert result.data_source == str(folder / "tiny-mnist.npz")


def test_training_cells_are_timed_and_projected_to_60000_images(course_run):
    result, _, _ = course_run
    lesson = result.lessons[0]
    training = [c for c in lesson.cells if c.trains]
    assert [c.index for c in training] == [2] and training[0].seconds >= 0.5
    assert lesson.training_seconds == training[0].seconds
    assert result.projected(lesson) == pytest.approx(lesson.seconds + 199 * training[0].seconds)


def test_every_claim_is_listed_with_its_measured_value_and_status(course_run):
    result, _, _ = course_run
    assert [(name, c["sentence"], c["status"], c["measured"]) for name, c in result.claims] == [
        ("00_everything", "one is one", "holds", "1"),
        ("00_everything", "the model reads every digit", "fails", "0.71"),
        ("02_fine", "two is two", "holds", ""),
    ]


def test_errors_time_outs_and_stderr_are_recorded_and_the_lesson_goes_on(course_run):
    result, _, _ = course_run
    lesson = result.lessons[0]
    assert lesson.errors == [
        (4, "ZeroDivisionError: division by zero"),
        (5, "CellTimeout: the cell ran over 4 s and was interrupted"),
    ]
    assert lesson.cells[-2].stderr == ["a warning"]
    assert lesson.cells[-1].errors == [] and lesson.cells[-1].index == 7


def test_a_lesson_whose_kernel_dies_does_not_stop_the_next_one(course_run):
    result, _, _ = course_run
    assert "DeadKernelError" in result.lessons[1].failure
    assert result.lessons[2].failure == "" and result.lessons[2].claims[0]["status"] == "holds"


def test_the_markdown_lists_machine_times_claims_and_every_problem(course_run):
    result, _, _ = course_run
    text = report.markdown(result)
    assert "| cores | " in text and "| training images | 300 |" in text and "TensorFlow" in text
    assert "load average (1 / 5 / 15 min) before the run" in text
    assert "| 00_everything | 2 | `time.sleep(0.5)  # stands for training.train(...)` |" in text
    assert "| **FAILS** | the model reads every digit (full mode) | 0.71 |" in text
    for problem in [
        '00_everything: claim failed: "the model reads every digit" (measured 0.71)',
        "00_everything, cell 4: ZeroDivisionError: division by zero",
        "00_everything, cell 5: CellTimeout",
        "00_everything, cell 6: wrote to stderr: a warning",
        "01_dies: the lesson stopped: DeadKernelError",
    ]:
        assert problem in text
    assert not result.ok


def test_the_executed_notebooks_are_saved_for_a_course_site(course_run):
    _, folder, _ = course_run
    saved = sorted(p.name for p in (folder / "executed").iterdir())
    assert saved == ["00_everything.ipynb", "01_dies.ipynb", "02_fine.ipynb"]


def test_the_report_survives_its_json_sidecar(course_run, tmp_path):
    result, _, _ = course_run
    md, sidecar = report.write(result, tmp_path / "r.md")
    again = report.Report.from_json(sidecar.read_text())
    assert report.markdown(again) == md.read_text() and again.ok == result.ok


# ------------------------------------------------------------------------------------------ without kernels
def _report(claim_status="holds", train_size=24_345):
    cells = [
        report.CellRun(1, "history = training.train(model, x)", ["train"], 40.0),
        report.CellRun(
            2,
            "claim(...)",
            ["claim"],
            0.1,
            claims=[
                {
                    "sentence": "the loss falls",
                    "measured": "150",
                    "status": claim_status,
                    "mode": "full",
                    "full_only": True,
                    "reason": "",
                }
            ],
        ),
    ]
    machine = report.Machine(2, "A CPU", "2.21.0", "3.11.7", [1.0, 1.5, 2.0], [1.2, 1.4, 1.9])
    lessons = [
        report.LessonRun("00_welcome", 5.0, [1.0, 1.5, 2.0]),
        report.LessonRun("01_autoencoder", 60.0, [1.0, 1.5, 2.0], cells=cells),
    ]
    return report.Report(
        "full", "2026-01-01 00:00 UTC", "empty at the start", "/data/mnist.npz", train_size, 10_000, machine, lessons
    )


def test_a_lesson_projection_scales_only_its_training_cells():
    result = _report()
    assert result.projected(result.lessons[1]) == pytest.approx(20.0 + 40.0 * 60_000 / 24_345)
    assert result.projected(result.lessons[0]) == pytest.approx(5.0)
    assert _report(train_size=None).projected(result.lessons[1]) is None


def test_the_readme_block_quotes_the_times_per_lesson_and_projected():
    block = report.readme_block(_report())
    assert block.startswith(report.README_BEGIN) and block.endswith(report.README_END)
    assert "| 01_autoencoder | 60 s | 119 s |" in block and "| all lessons | 65 s | 124 s |" in block
    assert "24,345 training images" in block and "load average 1.00 / 1.50 / 2.00" in block


def test_update_readme_rewrites_only_the_marked_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Course\n\nbefore\n{report.README_BEGIN}\nold times\n{report.README_END}\nafter\n")
    assert report.update_readme(_report(), readme)
    text = readme.read_text()
    assert text.startswith("# Course\n\nbefore\n") and text.endswith(f"{report.README_END}\nafter\n")
    assert "old times" not in text and not report.update_readme(_report(), readme)


def test_update_readme_without_the_markers_says_where_they_go(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Course\n")
    with pytest.raises(ValueError, match="add the two marker lines"):
        report.update_readme(_report(), readme)


@pytest.mark.parametrize("status, exit_status", [("holds", 0), ("fails", 1)])
def test_the_exit_status_says_whether_every_claim_held(status, exit_status, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(report, "run", lambda *a, **k: _report(claim_status=status))
    lesson = _lesson(tmp_path / "00_a.ipynb")
    args = argparse.Namespace(
        notebooks=[lesson],
        out=tmp_path / "r.md",
        executed=None,
        keep_cache=False,
        cell_timeout=10,
        fast=False,
        readme=True,
    )
    assert report.main_report(args) == exit_status
    assert "README.md left alone" in capsys.readouterr().out  # a subset of lessons never rewrites the README
    assert json.loads((tmp_path / "r.json").read_text())["lessons"][1]["cells"][1]["claims"][0]["status"] == status


def test_a_missing_notebook_is_named():
    args = argparse.Namespace(
        notebooks=[ROOT / "notebooks" / "99_nothing.ipynb"],
        out=None,
        executed=None,
        keep_cache=False,
        cell_timeout=10,
        fast=False,
        readme=False,
    )
    assert report.main_report(args) == 2


# ------------------------------------------------------------------------------------------ the committed report
def test_the_committed_report_agrees_with_its_sidecar():
    committed = report.Report.from_json(report.REPORT_JSON.read_text(encoding="utf-8"))
    assert report.markdown(committed) == report.REPORT_MD.read_text(encoding="utf-8")


def test_the_readme_time_statements_quote_the_committed_report():
    committed = report.Report.from_json(report.REPORT_JSON.read_text(encoding="utf-8"))
    assert report.readme_block(committed) in README.read_text(encoding="utf-8"), (
        "README.md's lesson times differ from docs/full-course-report.json: run `cvae-course report` (it rewrites "
        "the block) rather than editing either by hand"
    )
