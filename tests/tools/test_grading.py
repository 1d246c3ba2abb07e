"""`cvae-course grade`: nbgrader's real autograde on a folder of submissions, good and bad.

One grading run of the course notebooks (module fixture, -j 2) backs most tests; two tiny courses without
TensorFlow test the time limits cheaply.
"""

import hashlib
import re
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from cvae_course.tools import EXERCISES, SOLUTIONS, cli, grading

AE = "01_autoencoder"
NOTEBOOKS = [AE, "02_variational_autoencoder", "03_conditional_vae"]


def read(path):
    return nbformat.read(path, as_version=4)


def meta(cell):
    return cell.metadata.get("nbgrader", {})


def solved(name):
    """The exercise notebook with each answer cell filled in the way a learner would (no markers)."""
    answers = {meta(c)["grade_id"]: c.source for c in read(SOLUTIONS / f"{name}.ipynb").cells if meta(c).get("solution")}
    nb = read(EXERCISES / f"{name}.ipynb")
    for cell in nb.cells:
        if meta(cell).get("solution"):
            cell.source = "\n".join(ln for ln in answers[meta(cell)["grade_id"]].splitlines() if "### " not in ln)
    return nb


def blank(name=AE):
    return read(EXERCISES / f"{name}.ipynb")


def insert_after_setup(nb, source):
    nb.cells.insert(2, nbformat.v4.new_code_cell(source))
    return nb


def tampered():
    nb = blank()
    cells = {meta(c).get("grade_id"): c for c in nb.cells}
    cells["ae_encoder"].source = "pass  # trust me"
    cells["ae_reconstruction"].metadata.nbgrader["points"] = 100
    nb.cells.remove(cells["ae_decoder"])
    return nb


def flooded():
    nb = insert_after_setup(blank(), "for i in range(200_000):\n    print('flood', i)")
    setup = next(c for c in nb.cells if c.cell_type == "code")
    setup.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 5_000_000)]
    return nb


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    subs = tmp_path_factory.mktemp("submissions")
    notebooks = {
        "solved": {n: solved(n) for n in NOTEBOOKS},
        "blank": {AE: blank()},
        "tampered": {AE: tampered()},
        "crash": {AE: insert_after_setup(blank(), "import os\nos._exit(1)")},
        "flood": {AE: flooded()},
    }
    for student, nbs in notebooks.items():
        (subs / student).mkdir()
        for name, nb in nbs.items():
            nbformat.write(nb, subs / student / f"{name}.ipynb")
    (subs / "broken").mkdir()
    (subs / "broken" / f"{AE}.ipynb").write_text((EXERCISES / f"{AE}.ipynb").read_text()[:700])
    (subs / "misnamed").mkdir()
    (subs / "misnamed" / "01_Autoencoder (1).ipynb").write_bytes((EXERCISES / f"{AE}.ipynb").read_bytes())
    before = snapshot(subs)
    out = tmp_path_factory.mktemp("graded")
    rows = grading.grade(subs, out, jobs=2, limits=grading.Limits(cell_timeout=180, notebook_timeout=900))
    csv_rows = {(r["student_id"], r["notebook"]): r for r in grading.read_csv(out / "grades.csv")}
    return {"subs": subs, "before": before, "out": out, "rows": rows, "csv": csv_rows}


def autograded(run, student, name=AE):
    return read(run["out"] / "autograded" / student / f"{name}.ipynb")


def test_grades_csv_has_one_row_per_student_and_notebook_plus_misnamed_files(run):
    students = ["blank", "broken", "crash", "flood", "misnamed", "solved", "tampered"]
    expected = {(s, n) for s in students for n in NOTEBOOKS} | {("misnamed", "01_Autoencoder (1)")}
    assert set(run["csv"]) == expected
    header = list(next(iter(run["csv"].values())))
    assert header[:5] == grading.FIELDS and header[-1] == "reason"
    assert {"ae_encoder", "vae_kl", "cvae_style"} <= set(header)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_a_solved_notebook_gets_full_marks(run, name):
    row = run["csv"][("solved", name)]
    assert row["status"] == "graded", row["reason"]
    assert float(row["score"]) == float(row["max_score"]) >= 9


def test_an_unsolved_exercise_gets_zero(run):
    row = run["csv"][("blank", AE)]
    assert (row["status"], row["score"], row["max_score"]) == ("graded", "0", "10")
    assert "ae_encoder: CheckFailed: build_encoder(2) is not written yet" in row["reason"]
    assert "ae_train: NotImplementedError" in row["reason"]  # the locked training cell needs the encoder


def test_hidden_tests_are_put_back_and_run(run):
    cell = next(c for c in autograded(run, "solved").cells if meta(c).get("grade_id") == "ae_encoder")
    assert "latent_dim=16, seed=12" in cell.source
    assert "".join(o.get("text", "") for o in cell.outputs).count("\u2714") == 3


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_nothing_reaches_stderr_while_grading_a_solved_notebook(run, name):
    stderr = [o.text for c in autograded(run, "solved", name).cells for o in c.get("outputs", [])
              if o.output_type == "stream" and o.name == "stderr"]
    assert stderr == []


def test_edited_and_deleted_test_cells_are_restored_and_gain_nothing(run):
    row = run["csv"][("tampered", AE)]
    assert (row["status"], row["score"], row["max_score"]) == ("tests-restored", "0", "10")
    assert "edited: ae_encoder" in row["reason"] and "deleted: ae_decoder" in row["reason"]
    ids = [meta(c).get("grade_id") for c in autograded(run, "tampered").cells]
    assert "ae_decoder" in ids


def test_malformed_json_gets_an_invalid_notebook_row_with_the_position(run):
    row = run["csv"][("broken", AE)]
    assert row["status"] == "invalid-notebook" and row["score"] == "0" and row["max_score"] == "10"
    assert re.search(r"not valid JSON \(line \d+, column \d+", row["reason"]) and "resubmit" in row["reason"]


def test_a_misnamed_notebook_is_reported_with_the_name_it_should_have(run):
    row = run["csv"][("misnamed", "01_Autoencoder (1)")]
    assert row["status"] == "wrong-name" and "rename" in row["reason"] and f"{AE}.ipynb" in row["reason"]
    missing = run["csv"][("misnamed", AE)]
    assert missing["status"] == "missing" and "01_Autoencoder (1).ipynb" in missing["reason"]


def test_a_kernel_that_dies_gets_a_kernel_died_row(run):
    row = run["csv"][("crash", AE)]
    assert (row["status"], row["score"]) == ("kernel-died", "0")
    assert "os._exit" in row["reason"]


def test_huge_outputs_are_dropped_or_cut_and_the_notebook_is_still_graded(run):
    row = run["csv"][("flood", AE)]
    assert row["status"] == "graded" and "cut to 1000 lines" in row["reason"]
    assert (run["out"] / "autograded" / "flood" / f"{AE}.ipynb").stat().st_size < 1_000_000
    assert (run["out"] / "feedback" / "flood" / f"{AE}.html").stat().st_size < 2_000_000


def test_feedback_shows_the_score_but_not_the_hidden_tests(run):
    page = (run["out"] / "feedback" / "solved" / f"{AE}.html").read_text()
    assert "Score: 10.0 / 10.0" in page or "10.0 / 10.0" in page
    assert "HIDDEN TESTS" not in page and "\u2714" in page


def test_every_graded_row_has_html_feedback(run):
    for (student, name), row in run["csv"].items():
        if row["status"] != "wrong-name":
            page = (run["out"] / "feedback" / student / f"{name}.html").read_text()
            assert name in page and "<html" in page.lower()


def test_learners_files_are_left_byte_for_byte_unchanged(run):
    assert snapshot(run["subs"]) == run["before"]


def test_collect_reads_both_the_flat_layout_and_nbgraders_submitted_layout(tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / f"{AE}.ipynb").write_bytes((EXERCISES / f"{AE}.ipynb").read_bytes())
    (tmp_path / "bob" / AE).mkdir(parents=True)
    (tmp_path / "bob" / AE / f"{AE}.ipynb").write_bytes((EXERCISES / f"{AE}.ipynb").read_bytes())
    jobs, rows = grading.collect(tmp_path, [AE])
    assert [(j.student_id, j.notebook) for j in jobs] == [("alice", AE), ("bob", AE)] and rows == []


def test_grade_refuses_an_output_folder_inside_the_submissions(tmp_path, capsys):
    (tmp_path / "alice").mkdir()
    assert cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "graded")]) == 2
    assert "outside the submissions folder" in capsys.readouterr().err


# ------------------------------------------------------------------------ time limits, on a tiny course
def tiny_course(folder: Path) -> Path:
    """A two-test nbgrader notebook without TensorFlow: the limits cost seconds, not minutes."""
    def cell(source, grade_id, **flags):
        c = nbformat.v4.new_code_cell(source)
        c.metadata.nbgrader = {"grade": False, "solution": False, "locked": False, "grade_id": grade_id,
                               "schema_version": 3, "task": False, **flags}
        return c

    nb = nbformat.v4.new_notebook(cells=[
        cell("def answer():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION", "answer", solution=True),
        cell("assert answer() == 42", "answer_test", grade=True, locked=True, points=1),
        cell("assert 1 + 1 == 2", "after", grade=True, locked=True, points=1),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    folder.mkdir()
    nbformat.write(nb, folder / "limits.ipynb")
    return folder


def submit(folder: Path, student: str, answer_source: str) -> None:
    nb = read(tiny_course(folder.parent / f"src-{student}") / "limits.ipynb")
    nb.cells[0].source = answer_source
    (folder / student).mkdir(parents=True)
    nbformat.write(nb, folder / student / "limits.ipynb")


def kernels_left(since: float) -> list:
    """Kernels started by a grading run (they work inside its cvae-course-grade-* folder) still alive."""
    left = []
    for proc in psutil.process_iter(["cmdline", "create_time"]):
        try:
            if (proc.info["create_time"] >= since and "ipykernel" in " ".join(proc.info["cmdline"] or [])
                    and "cvae-course-grade-" in proc.cwd()):
                left.append(proc)
        except psutil.Error:
            pass
    return left


def grade_tiny(tmp_path: Path, answer_source: str, limits: grading.Limits) -> tuple[grading.Row, list]:
    """Grade one learner's tiny notebook; returns the row and the grading kernels still alive after."""
    start = time.time()
    submit(tmp_path / "subs", "learner", answer_source)
    before = snapshot(tmp_path / "subs")
    (row,) = grading.grade(tmp_path / "subs", tmp_path / "out", solutions=tiny_course(tmp_path / "src"), limits=limits)
    assert snapshot(tmp_path / "subs") == before
    return row, kernels_left(start)


def test_an_infinite_loop_is_interrupted_at_the_cell_limit_and_the_rest_is_graded(tmp_path):
    row, left = grade_tiny(tmp_path, "while True:\n    pass", grading.Limits(cell_timeout=3, notebook_timeout=300))
    assert (row.status, row.score, row.max_score) == ("cell-timeout", 1.0, 2.0)
    assert row.tasks == {"after": 1.0, "answer_test": 0.0} and "answer" in row.reason
    assert left == []


def test_a_notebook_over_its_time_limit_is_stopped_with_its_kernel(tmp_path):
    row, left = grade_tiny(tmp_path, "import time\ntime.sleep(3600)", grading.Limits(cell_timeout=3600, notebook_timeout=25))
    assert (row.status, row.score, row.max_score) == ("notebook-timeout", 0.0, 2.0)
    assert "25 s" in row.reason
    assert left == []
