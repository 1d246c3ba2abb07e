"""`cvae-course grade`: nbgrader's real autograde on a folder of submissions, good and bad.

One grading run of the course notebooks (module fixture, -j 2) backs most tests. Deleting each locked cell of each
notebook is checked without running the notebooks (the restoring function, then nbgrader's own autograde with the
README's settings and no execution); the deletions that crashed nbgrader are also graded for real. Tiny courses
without TensorFlow test the time limits, the feedback pages of every failure mode, regrading and nbgrader's
feedback layout cheaply.
"""

import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from cvae_course.tools import EXERCISES, ROOT, SOLUTIONS, cli, grading
from cvae_course.tools.nbgrader_plugins import (
    KEEP_FRAMES,
    MAX_ENTRY,
    HideHiddenTests,
    hidden_lines,
    layout_kept,
    leaked_lines,
    machine_paths,
    restore_locked_cells,
    tidy_output,
    visible_text,
)

AE, VAE, CVAE = "01_autoencoder", "02_variational_autoencoder", "03_conditional_vae"
NOTEBOOKS = [AE, VAE, CVAE]  # graded for real (a minute each)
EVERY = sorted(p.stem for p in SOLUTIONS.glob("*.ipynb"))  # checked without running: a new lesson's too
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def read(path):
    return nbformat.read(path, as_version=4)


def meta(cell):
    return cell.metadata.get("nbgrader", {})


def grade_id(cell):
    return meta(cell).get("grade_id")


def answers(name):
    return {
        grade_id(c): "\n".join(ln for ln in c.source.splitlines() if "### " not in ln)
        for c in read(SOLUTIONS / f"{name}.ipynb").cells
        if meta(c).get("solution")
    }


def solved(name, **changed):
    """The exercise notebook with each answer cell filled in the way a learner would (no markers); ``changed``
    replaces the answer of some cells."""
    given = {**answers(name), **changed}
    nb = read(EXERCISES / f"{name}.ipynb")
    for cell in nb.cells:
        if meta(cell).get("solution"):
            cell.source = given[grade_id(cell)]
    return nb


def blank(name=AE):
    return read(EXERCISES / f"{name}.ipynb")


def without(nb, *ids):
    nb.cells = [c for c in nb.cells if grade_id(c) not in ids]
    return nb


def insert_after_setup(nb, source):
    nb.cells.insert(2, nbformat.v4.new_code_cell(source))
    return nb


def tampered():
    nb = blank()
    cells = {grade_id(c): c for c in nb.cells}
    cells["ae_encoder"].source = "pass  # trust me"
    cells["ae_reconstruction"].metadata.nbgrader["points"] = 100
    nb.cells.remove(cells["ae_decoder"])
    return nb


def flooded():
    nb = insert_after_setup(blank(), "for i in range(200_000):\n    print('flood', i)")
    setup = next(c for c in nb.cells if c.cell_type == "code")
    setup.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 5_000_000)]
    return nb


def deleter_ae():
    """Solved, but the setup cell and the test after the training cell deleted (nbgrader alone crashed on the
    second), worst_reconstructions failing on the hidden tests' sizes, and a last cell printing every cell run."""
    worst = answers(AE)["ae_worst_answer"].replace(
        '    """Indices', '    if k != 5:\n        raise ValueError(f"only k=5 works, got {k}")\n    """Indices'
    )
    nb = without(solved(AE, ae_worst_answer=worst), "ae_setup", "ae_learned")
    nb.cells.append(nbformat.v4.new_code_cell("print('\\n'.join(In))  # every cell this kernel ran"))
    return nb


def deleter_vae():
    """Solved, but the training cell and its test deleted; kl_divergence failing on a hidden test's size only."""
    kl = answers(VAE)["vae_kl_answer"].replace(
        '    """KL', '    if z_mean.shape[-1] == 7:\n        raise ValueError("seven latent dimensions")\n    """KL'
    )
    return without(solved(VAE, vae_kl_answer=kl), "vae_train", "vae_trained")


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def pages(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): p.read_text() for p in sorted((out / "feedback").rglob("*.html"))}


HIDDEN = {name: hidden_lines(read(SOLUTIONS / f"{name}.ipynb")) for name in NOTEBOOKS}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    subs = tmp_path_factory.mktemp("submissions")
    notebooks = {
        "solved": {n: solved(n) for n in NOTEBOOKS},
        "blank": {f"{AE} (1)": blank(), VAE: blank(VAE), CVAE: blank(CVAE)},  # 01 as a browser's second download
        "tampered": {AE: tampered()},
        "crash": {AE: insert_after_setup(blank(), "import os\nos._exit(1)")},
        "flood": {AE: flooded()},
        "deleter": {AE: deleter_ae(), VAE: deleter_vae()},
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
    students = ["blank", "broken", "crash", "deleter", "flood", "misnamed", "solved", "tampered"]
    expected = {(s, n) for s in students for n in EVERY} | {("misnamed", "01_Autoencoder (1)")}
    assert set(run["csv"]) == expected


def test_grades_csv_columns_are_the_tasks_in_the_order_of_the_notebooks_and_their_cells(run):
    header = list(next(iter(run["csv"].values())))
    order = [grade_id(c) for n in EVERY for c in read(SOLUTIONS / f"{n}.ipynb").cells if meta(c).get("grade")]
    assert header == grading.FIELDS + order + ["reason"]
    assert order[:5] == ["ae_encoder", "ae_decoder", "ae_reconstruction", "ae_learned", "ae_worst"]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_a_solved_notebook_gets_full_marks(run, name):
    row = run["csv"][("solved", name)]
    assert row["status"] == "graded", row["reason"]
    assert float(row["score"]) == float(row["max_score"]) >= 9


def test_an_unsolved_exercise_gets_zero(run):
    row = run["csv"][("blank", AE)]
    assert (row["status"], row["score"], row["max_score"]) == ("graded", "0", "10")
    assert "ae_encoder: CheckFailed: build_encoder (task 1) is not written yet" in row["reason"]
    assert "ae_train: NotImplementedError" in row["reason"]  # the locked training cell needs the encoder


def test_a_browsers_second_download_is_graded_as_the_notebook_and_the_reason_says_so(run):
    row = run["csv"][("blank", AE)]
    assert row["reason"].startswith(f"graded {AE} (1).ipynb, the name a browser gives a second download of {AE}.ipynb")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_failing_cell_of_an_untouched_exercise_shows_a_short_check_message(run, name):
    """What a learner sees after Run All on an exercise they have not started: no traceback, no NameError."""
    shown = [
        (grade_id(c) or f"cell {i}", ANSI.sub("", "\n".join(o.traceback)))
        for i, c in enumerate(autograded(run, "blank", name).cells)
        for o in c.get("outputs", [])
        if o.output_type == "error"
    ]
    assert len(shown) >= 5
    for cell, text in shown:
        assert text.startswith("Check failed: ") and len(text.splitlines()) <= 2, (cell, text)
        assert not re.search(r"Traceback|NameError|File \"|^NotImplementedError", text, re.M), (cell, text)
    assert any("does not exist yet" in text for _, text in shown)  # the cell after a training cell that stopped


def test_hidden_tests_are_put_back_and_run(run):
    cell = next(c for c in autograded(run, "solved").cells if grade_id(c) == "ae_encoder")
    assert "latent_dim=16, seed=12" in cell.source
    assert "".join(o.get("text", "") for o in cell.outputs).count("\u2714") == 3


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_nothing_reaches_stderr_while_grading_a_solved_notebook(run, name):
    stderr = [
        o.text
        for c in autograded(run, "solved", name).cells
        for o in c.get("outputs", [])
        if o.output_type == "stream" and o.name == "stderr"
    ]
    assert stderr == []


def test_edited_and_deleted_test_cells_are_restored_and_gain_nothing(run):
    row = run["csv"][("tampered", AE)]
    assert (row["status"], row["score"], row["max_score"]) == ("tests-restored", "0", "10")
    assert "edited: ae_encoder" in row["reason"] and "deleted: ae_decoder" in row["reason"]
    ids = [grade_id(c) for c in autograded(run, "tampered").cells]
    assert "ae_decoder" in ids


@pytest.mark.parametrize(
    "name, deleted, expected",
    [
        (
            AE,
            "ae_setup, ae_learned",
            {"ae_encoder": 2, "ae_decoder": 2, "ae_reconstruction": 3, "ae_learned": 1, "ae_worst": 0},
        ),
        (
            VAE,
            "vae_train, vae_trained",
            {"vae_sampling": 2, "vae_kl": 0, "vae_elbo": 2, "vae_trained": 1, "vae_sample": 2},
        ),
    ],
)
def test_deleted_setup_training_and_test_cells_are_put_back_in_place_and_graded(run, name, deleted, expected):
    """nbgrader 0.9.6 alone crashed (KeyError) on ae_learned and vae_trained, and did not restore the setup cell."""
    row = run["csv"][("deleter", name)]
    assert row["status"] == "tests-restored" and f"deleted: {deleted}" in row["reason"], row["reason"]
    assert {task: float(row[task]) for task in expected} == expected
    released = [grade_id(c) for c in read(EXERCISES / f"{name}.ipynb").cells if grade_id(c)]
    assert [grade_id(c) for c in autograded(run, "deleter", name).cells if grade_id(c)] == released


def test_malformed_json_gets_an_invalid_notebook_row_with_the_position(run):
    row = run["csv"][("broken", AE)]
    assert row["status"] == "invalid-notebook" and row["score"] == "0" and row["max_score"] == "10"
    assert re.search(r"not valid JSON \(line \d+, column \d+", row["reason"]) and "resubmit" in row["reason"]


def test_a_misnamed_notebook_is_reported_with_the_name_it_should_have(run):
    row = run["csv"][("misnamed", "01_Autoencoder (1)")]
    assert row["status"] == "wrong-name" and "rename" in row["reason"] and f"{AE}.ipynb" in row["reason"]
    missing = run["csv"][("misnamed", AE)]
    assert missing["status"] == "missing" and "01_Autoencoder (1).ipynb" in missing["reason"]
    page = visible_text((run["out"] / "feedback" / "misnamed" / f"{AE}.html").read_text())
    assert "Found instead: 01_Autoencoder (1).ipynb" in page


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


def test_no_feedback_page_shows_hidden_test_code(run):
    found = pages(run["out"])
    assert len(found) >= 20
    assert "checks.check_encoder(build_encoder)" in visible_text(found[f"feedback/solved/{AE}.html"])  # search works
    leaks = {path: leaked_lines(page, [ln for n in NOTEBOOKS for ln in HIDDEN[n]]) for path, page in found.items()}
    assert {path: lines for path, lines in leaks.items() if lines} == {}


def test_a_learners_error_inside_a_hidden_test_shows_their_own_code_not_the_test(run):
    """The traceback keeps the frame of the learner's function and drops the test cell's hidden lines."""
    ae = visible_text((run["out"] / "feedback" / "deleter" / f"{AE}.html").read_text())
    assert "only k=5 works, got 3" in ae and 'raise ValueError(f"only k=5 works, got {k}")' in ae
    assert "it would show the hidden tests" in ae and "Score: 8.0 / 10.0" in ae  # nbgrader's page, not a stand-in
    vae = visible_text((run["out"] / "feedback" / "deleter" / f"{VAE}.html").read_text())
    assert "seven latent dimensions" in vae and "Score: 7.0 / 10.0" in vae
    printed = "\n".join(
        o.text for c in autograded(run, "deleter").cells for o in c.get("outputs", []) if o.output_type == "stream"
    )
    assert "latent_dim=16, seed=12" in printed  # the learner's last cell did print the hidden tests ...
    assert "[hidden test]" in ae  # ... and their page shows a placeholder instead


def test_every_graded_row_has_html_feedback(run):
    for (student, name), row in run["csv"].items():
        if row["status"] != "wrong-name":
            page = (run["out"] / "feedback" / student / f"{name}.html").read_text()
            assert name in page and "<html" in page.lower()


def test_learners_files_are_left_byte_for_byte_unchanged(run):
    assert snapshot(run["subs"]) == run["before"]


# ------------------------------------------------------------------------ deleting each locked cell
def locked_cells():
    return [
        (name, grade_id(c)) for name in EVERY for c in read(EXERCISES / f"{name}.ipynb").cells if meta(c).get("locked")
    ]


@pytest.mark.parametrize("name, deleted", locked_cells())
def test_deleting_any_locked_cell_puts_exactly_that_cell_back_in_its_place(name, deleted):
    released = read(EXERCISES / f"{name}.ipynb")
    submission = without(solved(name), deleted)
    restored, ids = restore_locked_cells(submission, released)
    assert ids == [deleted]
    assert [grade_id(c) for c in restored.cells] == [grade_id(c) for c in solved(name).cells]
    back = next(c for c in restored.cells if grade_id(c) == deleted)
    assert back.source == next(c.source for c in released.cells if grade_id(c) == deleted)
    assert len(submission.cells) == len(restored.cells) - 1  # the submission itself is left as it was


def test_deleting_every_locked_cell_puts_them_all_back_in_order():
    for name in EVERY:
        released = read(EXERCISES / f"{name}.ipynb")
        locked = [grade_id(c) for c in released.cells if meta(c).get("locked")]
        restored, ids = restore_locked_cells(without(solved(name), *locked), released)
        assert ids == locked
        assert [grade_id(c) for c in restored.cells if grade_id(c)] == [
            grade_id(c) for c in released.cells if grade_id(c)
        ]


def readme_nbgrader_config() -> str:
    """The nbgrader_config.py of the README's "your own nbgrader course" route, as the README writes it."""
    text = (ROOT / "README.md").read_text()
    match = re.search(r"cat > nbgrader_config.py <<'CONFIG'\n(.*?)\nCONFIG\n", text, re.S)
    assert match, "the README's own-nbgrader route has no nbgrader_config.py block"
    return match.group(1)


NO_EXECUTION = """
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import CheckCellMetadata, LimitOutput, SaveAutoGrades
c.Autograde.autograde_preprocessors = [ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades, CheckCellMetadata]
"""


def nbgrader(args, cwd):
    env = {
        **os.environ,
        "JUPYTER_NO_CONFIG": "1",
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
    }
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def readme_route(tmp_path_factory):
    """nbgrader's own autograde with the README's settings, in one course of the three notebooks: one student per
    locked cell, who deleted that cell (no execution: what is checked is what nbgrader makes of the notebook)."""
    root = tmp_path_factory.mktemp("readme-course")
    for name in EVERY:
        (root / "source" / name).mkdir(parents=True)
        (root / "source" / name / f"{name}.ipynb").write_bytes((SOLUTIONS / f"{name}.ipynb").read_bytes())
    (root / "nbgrader_config.py").write_text(readme_nbgrader_config() + NO_EXECUTION)
    generated = nbgrader(["generate_assignment", "*"], root)
    assert generated.returncode == 0, generated.stdout[-3000:]
    plain = tmp_path_factory.mktemp("plain") / "course"
    shutil.copytree(root, plain)  # the same course, for plain nbgrader (below)
    for name, cell in locked_cells():
        folder = root / "submitted" / cell / name
        folder.mkdir(parents=True)
        nbformat.write(without(solved(name), cell), folder / f"{name}.ipynb")
    return {"root": root, "autograde": nbgrader(["autograde", "*"], root), "plain": plain}


@pytest.mark.parametrize("name, deleted", locked_cells())
def test_nbgrader_with_the_readmes_settings_survives_deleting_any_locked_cell(readme_route, name, deleted):
    done = readme_route["autograde"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    nb = read(readme_route["root"] / "autograded" / deleted / name / f"{name}.ipynb")
    assert [grade_id(c) for c in nb.cells if grade_id(c)] == [grade_id(c) for c in solved(name).cells if grade_id(c)]


def test_plain_nbgrader_crashes_on_a_deleted_test_after_a_training_cell_as_the_readme_says(readme_route):
    """The control: the crash the README's settings avoid, and its plain-nbgrader way out (the test scores 0)."""
    root = readme_route["plain"]
    plain = readme_nbgrader_config().split("from nbconvert")[0] + "c.OverwriteCells.add_missing_cells = True\n"
    (root / "nbgrader_config.py").write_text(plain + NO_EXECUTION)
    (root / "submitted" / "learner" / AE).mkdir(parents=True)
    nbformat.write(without(solved(AE), "ae_learned"), root / "submitted" / "learner" / AE / f"{AE}.ipynb")
    done = nbgrader(["autograde", AE], root)
    assert done.returncode != 0 and "KeyError: 'ae_train'" in done.stdout + done.stderr
    assert nbgrader(["autograde", AE, "--force", "--OverwriteCells.add_missing_cells=False"], root).returncode == 0
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        assert gb.find_grade("ae_learned", AE, AE, "learner").score == 0
        assert gb.find_grade("ae_encoder", AE, AE, "learner").score == 2


@pytest.mark.parametrize(
    "student, pasted", [("paste01", ["ae_decoder_answer"]), ("paste01t", ["ae_encoder_answer", "ae_encoder"])]
)
def test_cells_pasted_from_another_exercise_with_their_metadata_are_graded_as_plain_cells(
    readme_route, student, pasted
):
    cells = {grade_id(c): c for c in solved(AE).cells}
    nb = solved(VAE)
    nb.cells[3:3] = [nbformat.from_dict(json.loads(json.dumps(cells[g]))) for g in pasted]  # JupyterLab's paste
    folder = readme_route["root"] / "submitted" / student / VAE
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{VAE}.ipynb")
    done = nbgrader(["autograde", VAE, "--student", student], readme_route["root"])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    graded = read(readme_route["root"] / "autograded" / student / VAE / f"{VAE}.ipynb")
    assert [grade_id(c) for c in graded.cells if grade_id(c)] == [
        grade_id(c) for c in nb.cells if grade_id(c) and grade_id(c) not in pasted
    ]
    assert [c.source for c in graded.cells[3 : 3 + len(pasted)]] == [cells[g].source for g in pasted]


# ------------------------------------------------------------------------ hidden tests in any output
def test_hide_hidden_tests_scrubs_tracebacks_timeouts_and_prints_and_keeps_the_rest():
    hidden_call = "check(answer, size=7, seed=61)"
    test = nbformat.v4.new_code_cell(f"check(answer)\n### BEGIN HIDDEN TESTS\n{hidden_call}\n### END HIDDEN TESTS")
    test.metadata.nbgrader = {"grade": True, "grade_id": "t", "points": 1, "locked": True, "solution": False}
    test.outputs = [
        nbformat.v4.new_output(
            "error",
            ename="ValueError",
            evalue="bad size",
            traceback=[
                "-----",
                f"Cell In[3], line 3\n      1 check(answer)\n----> 3 \x1b[0m{hidden_call}",
                "Cell In[2], line 2, in answer(size)\n----> 2 raise ValueError('bad size')",
                "ValueError: bad size",
            ],
        ),
        nbformat.v4.new_output(
            "error",
            ename="CellTimeoutError",
            traceback=[],
            evalue=f"A cell timed out. Here is a preview: ['check(answer)', '{hidden_call}']",
        ),
    ]
    other = nbformat.v4.new_code_cell("print(In)")
    other.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"['', 'check(answer)\\n{hidden_call}']")]
    nb = nbformat.v4.new_notebook(cells=[test, other])
    nb, _ = HideHiddenTests().preprocess(nb, {})
    text = nbformat.writes(nb)
    assert leaked_lines(text, [hidden_call]) == [] and "HIDDEN TESTS" not in text
    error = nb.cells[0].outputs[0]
    assert "raise ValueError('bad size')" in "".join(error.traceback)  # the learner's own frame stays
    assert nb.cells[0].source == "check(answer)"


# ------------------------------------------------------------------------ tiny courses: every failure mode, cheaply
VISIBLE, PROBE = "assert answer() == 42", "assert answer() + 0 == 42, 'hidden probe'"


def tiny_course(folder: Path) -> Path:
    """A two-test nbgrader notebook without TensorFlow (one test with a hidden part): runs in seconds."""

    def cell(source, grade_id, **flags):
        c = nbformat.v4.new_code_cell(source)
        c.metadata.nbgrader = {
            "grade": False,
            "solution": False,
            "locked": False,
            "grade_id": grade_id,
            "schema_version": 3,
            "task": False,
            **flags,
        }
        return c

    nb = nbformat.v4.new_notebook(
        cells=[
            cell("def answer():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION", "answer", solution=True),
            cell(
                f"{VISIBLE}\n### BEGIN HIDDEN TESTS\n{PROBE}\n### END HIDDEN TESTS",
                "answer_test",
                grade=True,
                locked=True,
                points=1,
            ),
            cell("assert 1 + 1 == 2", "after", grade=True, locked=True, points=1),
        ]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    folder.mkdir(exist_ok=True)
    nbformat.write(nb, folder / "limits.ipynb")
    return folder


TWICE = (
    "def answer():\n    global calls\n    calls = globals().get('calls', 0) + 1\n    if calls > 1:\n"
    "        raise ValueError('only once')\n    return 42"
)


def as_released(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook as a learner gets it: no hidden tests (what a learner submits has none)."""
    for cell in nb.cells:
        cell.source = re.sub(r"\n?### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "", cell.source, flags=re.S)
    return nb


def submit(folder: Path, student: str, answer_source: str, nbgrader_layout: bool = False) -> Path:
    nb = as_released(read(tiny_course(folder.parent / f"src-{student}") / "limits.ipynb"))
    nb.cells[0].source = answer_source
    target = folder / student / "limits" if nbgrader_layout else folder / student
    target.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target / "limits.ipynb")
    if nbgrader_layout:  # what nbgrader collect writes beside the notebook
        (target / "timestamp.txt").write_text("2025-11-29 20:12:01.123456 UTC")
        (target / "submission_secret.txt").write_text(f"secret-of-{student}")
    return target


def kernels_left(since: float) -> list:
    """Kernels started by a grading run (they work inside its cvae-course-grade-* folder) still alive."""
    left = []
    for proc in psutil.process_iter(["cmdline", "create_time"]):
        try:
            if (
                proc.info["create_time"] >= since
                and "ipykernel" in " ".join(proc.info["cmdline"] or [])
                and "cvae-course-grade-" in proc.cwd()
            ):
                left.append(proc)
        except psutil.Error:
            pass
    return left


def tiny_page(out: Path, student: str) -> str:
    page = (out / "feedback" / student / "limits.html").read_text()
    assert leaked_lines(page, [PROBE]) == [], f"{student}'s page shows the hidden test"
    return visible_text(page)


def grade_tiny(tmp_path: Path, answer_source: str, limits: grading.Limits) -> tuple[grading.Row, list]:
    """Grade one learner's tiny notebook; returns the row and the grading kernels still alive after."""
    start = time.time()
    submit(tmp_path / "subs", "learner", answer_source)
    before = snapshot(tmp_path / "subs")
    (row,) = grading.grade(tmp_path / "subs", tmp_path / "out", solutions=tiny_course(tmp_path / "src"), limits=limits)
    assert snapshot(tmp_path / "subs") == before
    return row, kernels_left(start)


LOOPS_IN_HIDDEN_TEST = (
    "def answer():\n    global calls\n    calls = globals().get('calls', 0) + 1\n"
    "    while calls > 1:  # the hidden test's call never returns\n        pass\n    return 42"
)


def test_an_infinite_loop_is_interrupted_at_the_cell_limit_and_the_rest_is_graded(tmp_path):
    row, left = grade_tiny(tmp_path, LOOPS_IN_HIDDEN_TEST, grading.Limits(cell_timeout=3, notebook_timeout=300))
    assert (row.status, row.score, row.max_score) == ("cell-timeout", 1.0, 2.0)
    assert row.tasks == {"answer_test": 0.0, "after": 1.0} and "answer_test" in row.reason
    assert left == []
    page = tiny_page(tmp_path / "out", "learner")  # interrupted in the hidden test: the page does not show it
    assert "KeyboardInterrupt" in page and "while calls > 1" in page and VISIBLE in page
    assert "Score: 1.0 / 2.0" in page


def test_a_notebook_over_its_time_limit_is_stopped_with_its_kernel(tmp_path):
    row, left = grade_tiny(
        tmp_path, "import time\ntime.sleep(3600)", grading.Limits(cell_timeout=3600, notebook_timeout=25)
    )
    assert (row.status, row.score, row.max_score) == ("notebook-timeout", 0.0, 2.0)
    assert "25 s" in row.reason
    assert left == []
    assert "longer than the time allowed for a whole notebook" in tiny_page(tmp_path / "out", "learner")


REAL_NBGRADER_CONFIG = grading.nbgrader_config


def plain_feedback_config(limits=grading.Limits()) -> str:
    """Grading's nbgrader settings with nbgrader's own ClearHiddenTests in place of HideHiddenTests."""
    return (
        REAL_NBGRADER_CONFIG(limits)
        .replace(
            "from cvae_course.tools.nbgrader_plugins import HideHiddenTests, RestoreLockedCells",
            "from nbgrader.preprocessors import ClearHiddenTests\n"
            "from cvae_course.tools.nbgrader_plugins import RestoreLockedCells",
        )
        .replace("HideHiddenTests", "ClearHiddenTests")
    )


@pytest.fixture(scope="module")
def tiny_class(tmp_path_factory, request):
    """Four learners of the tiny course, graded once, then two of them regraded from the command line.

    ``ok`` comes in nbgrader's layout; ``twice`` fails inside the hidden test; grading ``internal`` hits an
    internal error (with a path in it) and ``nofeedback``'s feedback page cannot be made. A Jupyter settings folder
    whose nbgrader settings point at another course stands for the instructor's own nbgrader configuration. The
    regrade (``--student internal --student twice``, the cause of the internal error gone) runs with nbgrader's own
    ClearHiddenTests, which leaves tracebacks alone: the last guard must withhold twice's page.
    """
    tmp = tmp_path_factory.mktemp("tiny-class")
    subs, out, src = tmp / "submitted", tmp / "graded", tiny_course(tmp / "src")
    submit(subs, "ok", "def answer():\n    return 42", nbgrader_layout=True)
    submit(subs, "twice", TWICE)
    submit(subs, "internal", "def answer():\n    return 42")
    submit(subs, "nofeedback", "def answer():\n    return 42")
    (tmp / "own-course").mkdir()
    (tmp / "jupyter").mkdir()
    (tmp / "jupyter" / "nbgrader_config.py").write_text(
        f"c = get_config()\nc.CourseDirectory.root = {str(tmp / 'own-course')!r}\n"
    )
    patch = pytest.MonkeyPatch()
    request.addfinalizer(patch.undo)
    patch.setenv("JUPYTER_CONFIG_DIR", str(tmp / "jupyter"))
    real_scores, real_nbgrader = grading._scores, grading._nbgrader

    def scores(course, notebook, student):
        if student == "internal":
            raise RuntimeError(f"database locked at {course}/gradebook.db")
        return real_scores(course, notebook, student)

    def run_nbgrader(args, *rest):
        if args[0] == "generate_feedback" and "nofeedback" in args:
            return "failed"
        return real_nbgrader(args, *rest)

    patch.setattr(grading, "_scores", scores)
    patch.setattr(grading, "_nbgrader", run_nbgrader)
    grading.grade(subs, out, solutions=src, jobs=2)
    first = {r["student_id"]: r for r in grading.read_csv(out / "grades.csv")}
    first_pages = pages(out)
    patch.setattr(grading, "_scores", real_scores)
    patch.setattr(grading, "nbgrader_config", plain_feedback_config)
    code = cli.main(
        [
            "grade",
            str(subs),
            "--out",
            str(out),
            "--student",
            "internal",
            "--student",
            "twice",
            "--solutions",
            str(src),
            "-j",
            "2",
        ]
    )
    second = {r["student_id"]: r for r in grading.read_csv(out / "grades.csv")}
    return {
        "tmp": tmp,
        "out": out,
        "first": first,
        "second": second,
        "first_pages": first_pages,
        "code": code,
        "second_pages": pages(out),
    }


def test_grading_ignores_the_instructors_own_nbgrader_settings(tiny_class):
    assert tiny_class["first"]["ok"]["status"] == "graded"
    assert list((tiny_class["tmp"] / "own-course").iterdir()) == []  # nbgrader never worked in that course


def test_a_failure_inside_a_hidden_test_shows_on_the_page_without_the_hidden_line(tiny_class):
    row = tiny_class["first"]["twice"]
    assert (row["status"], row["score"]) == ("graded", "1") and "ValueError: only once" in row["reason"]
    page = visible_text(tiny_class["first_pages"]["feedback/twice/limits.html"])
    assert "only once" in page and VISIBLE in page and "hidden probe" not in page


def test_an_internal_error_gives_the_learner_a_neutral_page_and_the_instructor_the_cause(tiny_class):
    row = tiny_class["first"]["internal"]
    assert row["status"] == "error" and "database locked at" in row["reason"] and "--student" in row["reason"]
    page = visible_text(tiny_class["first_pages"]["feedback/internal/limits.html"])
    assert "a problem on the grading side, not in your work" in page
    assert not re.search(r"Traceback|RuntimeError|database|/tmp|\.db", page), page


def test_when_the_detailed_page_cannot_be_made_the_learner_still_gets_the_score_of_each_task(tiny_class):
    row = tiny_class["first"]["nofeedback"]
    assert (row["status"], row["score"]) == ("graded", "2")
    assert "the detailed feedback page could not be made" in row["reason"]
    page = visible_text(tiny_class["first_pages"]["feedback/nofeedback/limits.html"])
    assert "Score: 2 / 2" in page and "answer_test1 / 1" in page and "could not be made" in page
    assert "could not be graded" not in page


def test_a_submission_in_nbgraders_layout_gets_its_time_and_the_layout_release_feedback_reads(tiny_class):
    row = tiny_class["first"]["ok"]
    assert row["submitted_at"] == "2025-11-29 20:12:01.123456 UTC"
    folder = tiny_class["out"] / "feedback" / "ok" / "limits"
    assert sorted(p.name for p in folder.iterdir()) == ["limits.html", "submission_secret.txt", "timestamp.txt"]
    exchange = tiny_class["tmp"] / "exchange"
    exchange.mkdir()
    done = nbgrader(
        [
            "release_feedback",
            "limits",
            f"--CourseDirectory.root={tiny_class['out']}",
            "--CourseDirectory.course_id=cvae-course",
            f"--Exchange.root={exchange}",
        ],
        tiny_class["tmp"],
    )
    assert done.returncode == 0, done.stdout + done.stderr
    from nbgrader.utils import notebook_hash

    released = (
        exchange / "cvae-course" / "feedback" / f"{notebook_hash(secret='secret-of-ok', notebook_id='limits')}.html"
    )
    assert released.read_text() == (folder / "limits.html").read_text()


def test_regrading_some_students_replaces_only_their_rows_and_pages(tiny_class):
    first, second = tiny_class["first"], tiny_class["second"]
    assert tiny_class["code"] == 0
    assert set(second) == set(first)
    regraded = {"internal", "twice"}
    assert {s: r for s, r in second.items() if s not in regraded} == {
        s: r for s, r in first.items() if s not in regraded
    }
    assert (second["internal"]["status"], second["internal"]["score"]) == ("graded", "2")
    assert "Score: 2.0 / 2.0" in visible_text(tiny_class["second_pages"]["feedback/internal/limits.html"])
    assert tiny_class["second_pages"]["feedback/ok/limits.html"] == tiny_class["first_pages"]["feedback/ok/limits.html"]


def test_a_page_that_would_show_hidden_tests_is_withheld(tiny_class):
    """nbgrader's ClearHiddenTests leaves the traceback of a failure inside a hidden test on the page: the last
    guard withholds that page and the learner gets the score of each task instead."""
    row = tiny_class["second"]["twice"]
    assert (row["status"], row["score"]) == ("graded", "1")
    assert "withheld because it showed hidden-test code" in row["reason"]
    page = tiny_class["second_pages"]["feedback/twice/limits.html"]
    assert leaked_lines(page, [PROBE]) == [] and "Score: 1 / 2" in visible_text(page)
    assert "answer_test0 / 1" in visible_text(page)


# ------------------------------------------------------------------------ collecting and the command line
def test_collect_reads_both_the_flat_layout_and_nbgraders_submitted_layout(tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / f"{AE}.ipynb").write_bytes((EXERCISES / f"{AE}.ipynb").read_bytes())
    (tmp_path / "bob" / AE).mkdir(parents=True)
    (tmp_path / "bob" / AE / f"{AE}.ipynb").write_bytes((EXERCISES / f"{AE}.ipynb").read_bytes())
    jobs, rows = grading.collect(tmp_path, [AE])
    assert [(j.student_id, j.notebook) for j in jobs] == [("alice", AE), ("bob", AE)] and rows == []


def test_collect_prefers_the_exact_name_and_otherwise_the_newest_duplicate(tmp_path):
    for student, names in {
        "exact": [f"{AE}.ipynb", f"{AE} (1).ipynb"],
        "copies": [f"{AE} (1).ipynb", f"{AE}(2).ipynb", f"{AE}-Copy1.ipynb"],
    }.items():
        (tmp_path / student).mkdir()
        for age, name in enumerate(names):
            path = tmp_path / student / name
            path.write_bytes((EXERCISES / f"{AE}.ipynb").read_bytes())
            os.utime(path, (1_700_000_000 + age, 1_700_000_000 + age))
    jobs, rows = grading.collect(tmp_path, [AE])
    by = {j.student_id: j for j in jobs}
    assert by["exact"].source.name == f"{AE}.ipynb" and f"also found {AE} (1).ipynb, not graded" in by["exact"].note
    assert by["copies"].source.name == f"{AE}-Copy1.ipynb" and "JupyterLab gives a copy" in by["copies"].note
    assert rows == []


def test_collect_leaves_other_course_notebooks_alone_when_grading_one(tmp_path):
    (tmp_path / "alice").mkdir()
    for name in NOTEBOOKS:
        (tmp_path / "alice" / f"{name}.ipynb").write_bytes((EXERCISES / f"{name}.ipynb").read_bytes())
    jobs, rows = grading.collect(tmp_path, [VAE], course=NOTEBOOKS, students=["alice"])
    assert [(j.student_id, j.notebook) for j in jobs] == [("alice", VAE)] and rows == []
    with pytest.raises(ValueError, match=r"no folder for student\(s\) \['carol'\]"):
        grading.collect(tmp_path, [VAE], course=NOTEBOOKS, students=["carol"])


def test_grade_refuses_an_output_folder_inside_the_submissions(tmp_path, capsys):
    (tmp_path / "alice").mkdir()
    assert cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "graded")]) == 2
    assert "outside the submissions folder" in capsys.readouterr().err


def test_grade_and_release_say_what_to_install_when_nbgrader_is_missing(tmp_path):
    code = (
        "import sys; sys.modules['nbgrader'] = None\n"
        "from cvae_course.tools import cli\n"
        f"print(cli.main(['grade', {str(tmp_path)!r}, '--out', {str(tmp_path / 'out')!r}]),"
        " cli.main(['release', '--check']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["2", "2"], done.stderr
    assert done.stderr.count("needs nbgrader") == 2 and "python3 course.py instructor" in done.stderr


def test_the_learners_side_of_the_course_imports_without_nbgrader():
    """Learners install the course without nbgrader: lessons, exercises and their checks must not need it."""
    modules = [
        "checks",
        "data",
        "models",
        "plots",
        "recipes",
        "evaluate",
        "applications",
        "collapse",
        "playground",
        "quiz",
        "claims",
        "training",
        "losses",
    ]
    code = "import sys; sys.modules['nbgrader'] = None\nimport importlib\n" + "".join(
        f"importlib.import_module('cvae_course.{m}')\n" for m in modules
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


# ------------------------------------------------------------------------ a class's mistakes, on the tiny course
def tiny_notebook(student: str, folder: Path) -> nbformat.NotebookNode:
    return as_released(read(tiny_course(folder / f"src-{student}") / "limits.ipynb"))


def write_submission(subs: Path, student: str, nb: nbformat.NotebookNode) -> None:
    (subs / student).mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, subs / student / "limits.ipynb")


@pytest.fixture(scope="module")
def tiny_mistakes(tmp_path_factory):
    """Learners of the tiny course who did what a real class does, graded once (-j 2)."""
    tmp = tmp_path_factory.mktemp("tiny-mistakes")
    subs, out, src = tmp / "submitted", tmp / "graded", tiny_course(tmp / "src")
    for student, copied in (("pasted-answer", 0), ("pasted-test", 1)):  # JupyterLab copy/paste keeps the metadata
        nb = tiny_notebook(student, tmp)
        nb.cells[0].source = "def answer():\n    return 42"
        twin = nbformat.from_dict(json.loads(json.dumps(nb.cells[copied])))
        twin["id"] = f"copy-{copied}"
        nb.cells.append(twin)
        write_submission(subs, student, nb)
    retyped = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("def answer():\n    return 42")])
    retyped.metadata = tiny_notebook("retyped", tmp).metadata
    write_submission(subs, "retyped", retyped)
    learners = {
        "snoop": SNOOP,
        "patcher": "def answer():\n    return 41",
        "unlocker": "def answer():\n    return 41",
    }
    for student, answer in learners.items():
        nb = tiny_notebook(student, tmp)
        nb.cells[0].source = answer
        write_submission(subs, student, nb)
    patcher = read(subs / "patcher" / "limits.ipynb")
    patcher.cells.insert(1, nbformat.v4.new_code_cell(PATCH))
    nbformat.write(patcher, subs / "patcher" / "limits.ipynb")
    unlocker = read(subs / "unlocker" / "limits.ipynb")
    unlocker.cells[1].metadata.nbgrader["locked"] = False
    unlocker.cells[1].source = "assert True  # my own test"
    nbformat.write(unlocker, subs / "unlocker" / "limits.ipynb")
    write_submission(subs, "copier", read(src / "limits.ipynb"))  # the solutions notebook itself
    for student, names in (("lost", ["Untitled"]), ("cased", ["Untitled", "Limits"])):
        (subs / student).mkdir()
        for name in names:
            nbformat.write(tiny_notebook(student, tmp), subs / student / f"{name}.ipynb")
    said = []
    with pytest.MonkeyPatch.context() as patch:  # the course's own settings, even after tiny_class's regrade
        patch.setattr(grading, "nbgrader_config", REAL_NBGRADER_CONFIG)
        rows = {r.student_id: r for r in grading.grade(subs, out, solutions=src, jobs=2, report=said.append)}
    return {"rows": rows, "out": out, "tmp": tmp, "said": said}


SNOOP = (
    "import glob, os, sys\nimport cvae_course\n\ndef answer():\n    return 42\n\n"
    "marker = '### END ' + 'SOLUTION'  # not written out: this cell's own notebook must not match\n"
    "root = '../../../../..'  # the whole temporary grading folder: templates/, jobs/<student>__<notebook>/ ...\n"
    "found = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs\n"
    "         if f.endswith('.ipynb') and marker in open(os.path.join(d, f), errors='replace').read()]\n"
    "print('solution files:', len(found), sorted(os.listdir('../../..')))\n"
    "print('job folders:', len(os.listdir('../../../..')), 'sources:', len(glob.glob(root + '/templates/*/source')))\n"
    "print('paths:', os.getcwd(), sys.prefix, os.path.expanduser('~'), os.environ.get('CVAE_COURSE_MNIST'))\n"
    "print('package:', cvae_course.__file__)"
)
PATCH = (
    "import cvae_course.checks as _c\n[setattr(_c, n, lambda *a, **k: None) for n in dir(_c) if n.startswith('check_')]"
)


def test_the_learners_kernel_finds_no_file_with_the_solutions_in_its_grading_folder(tiny_mistakes):
    row = tiny_mistakes["rows"]["snoop"]
    assert (row.status, row.score) == ("graded", 2.0), row
    out = "".join(
        o.get("text", "") for o in read(tiny_mistakes["out"] / "autograded" / "snoop" / "limits.ipynb").cells[0].outputs
    )
    assert "solution files: 0 " in out and "'source'" not in out and "sources: 0" in out, out


def test_the_learners_kernel_finds_no_folder_of_a_learner_graded_before(tiny_mistakes):
    out = "".join(
        o.get("text", "") for o in read(tiny_mistakes["out"] / "autograded" / "snoop" / "limits.ipynb").cells[0].outputs
    )
    folders = int(re.search(r"job folders: (\d+)", out).group(1))
    assert 1 <= folders <= 2, out  # its own and, with -j 2, the one graded at the same time


def test_a_learners_page_shows_placeholders_instead_of_the_grading_machines_paths(tiny_mistakes):
    page = visible_text((tiny_mistakes["out"] / "feedback" / "snoop" / "limits.html").read_text())
    assert "paths: <grading folder>" in page and "package: <cvae_course>" in page, page
    machine = [sys.prefix, str(Path.home()), "cvae-course-grade-", str(Path(grading.__file__).parents[1])]
    machine += [os.environ["CVAE_COURSE_MNIST"]] if os.environ.get("CVAE_COURSE_MNIST") else []
    assert [path for path in machine if path in page] == []


@pytest.mark.parametrize("student, why", [("patcher", "patch the checks"), ("copier", "BEGIN SOLUTION")])
def test_patching_the_checks_or_submitting_the_solutions_is_flagged_with_the_points_kept(tiny_mistakes, student, why):
    row = tiny_mistakes["rows"][student]
    assert row.status == "flagged" and row.reason.startswith("FLAGGED") and why in row.reason, row
    assert row.score == (1.0 if student == "patcher" else 2.0)
    assert any(line.startswith(f"{student}/limits: flagged") and why in line for line in tiny_mistakes["said"])


def test_a_locked_test_cell_unlocked_and_changed_is_reported_as_edited_not_deleted(tiny_mistakes):
    row = tiny_mistakes["rows"]["unlocker"]
    assert row.status == "tests-restored" and "edited: answer_test (unlocked and changed)" in row.reason, row
    assert "deleted" not in row.reason and row.score == 1.0


def test_a_missing_notebook_names_only_the_misnamed_files_that_look_like_it(tiny_mistakes):
    rows = tiny_mistakes["rows"]
    assert "but see" not in rows["lost"].reason and "(but see Limits.ipynb)" in rows["cased"].reason
    lost = visible_text((tiny_mistakes["out"] / "feedback" / "lost" / "limits.html").read_text())
    cased = visible_text((tiny_mistakes["out"] / "feedback" / "cased" / "limits.html").read_text())
    assert "Found instead" not in lost and "Found instead: Limits.ipynb." in cased, cased


MALLORY = [
    "import cvae_course.checks as _c\n[setattr(_c, n, lambda *a, **k: None) for n in dir(_c) if n.startswith('check_')]",
    "checks.check_encoder = lambda *a, **k: print('✔ ...')",
    "from cvae_course.checks import lesson01\nlesson01.check_encoder = print",
    "check_decoder = lambda *a, **k: None",
    "import sys\nsys.modules['cvae_course.checks'] = object()",
]


@pytest.mark.parametrize("source", MALLORY)
def test_an_answer_cell_that_patches_the_checks_is_suspicious(source):
    nb = solved(AE, ae_encoder_answer=answers(AE)["ae_encoder_answer"] + "\n" + source)
    assert grading._suspicious(nb, blank()) == [
        "these cells look like they patch the checks the tests call: ae_encoder_answer"
    ]


@pytest.mark.parametrize(
    "source",
    [
        "import base64\nfor s in In: print(base64.b64encode(s.encode()))",
        "print(In[-1])",
        "print(get_ipython().history_manager.get_range())",
        "import sqlite3\nsqlite3.connect('../../../gradebook.db')",
    ],
)
def test_an_answer_cell_that_reads_the_input_history_or_the_gradebook_is_suspicious(source):
    nb = solved(AE, ae_worst_answer=answers(AE)["ae_worst_answer"] + "\n" + source)
    assert grading._suspicious(nb, blank()) == [
        "these cells read the kernel's input history or the gradebook, where the hidden tests are: ae_worst_answer"
    ]


@pytest.mark.parametrize("name", EVERY)
def test_solved_notebooks_and_calls_of_the_checks_are_not_suspicious(name):
    nb = solved(name)
    nb.cells.append(nbformat.v4.new_code_cell("checks.check_encoder(build_encoder, latent_dim=2)  # check_x = 1"))
    nb.cells.append(nbformat.v4.new_code_cell("plt.plot(history.history['loss'])\nprint('Index', 'Info', 'In order')"))
    assert grading._suspicious(nb, read(EXERCISES / f"{name}.ipynb")) == []


HONEST = [
    "check_codes = build_encoder(2)(mnist.x_test[:4])\nprint(check_codes.shape)",
    "def helper(check_every=1):\n    return check_every\n\nhelper(check_every=5)",
    "class Logger:\n    def __init__(self):\n        self.check_freq = 5",
    "from unittest import mock\n\nwith mock.patch('os.getcwd', lambda: '.'):\n    checkpoint = 1",
    "class Scale(keras.layers.Layer):\n    def build(self, shape):\n        setattr(self, 'w', 1)\n\nprint('check shapes')",
    "import sys\nprint('tensorflow_probability' in sys.modules)",
    "import importlib\nimportlib.reload(checks)",
    "for i in range(3):\n    print(f'In [{i}] the digit is', i)",
]


@pytest.mark.parametrize("source", HONEST)
def test_honest_code_that_names_checks_or_in_without_patching_or_reading_them_is_not_suspicious(source):
    nb = solved(AE)
    nb.cells.append(nbformat.v4.new_code_cell(source))
    assert grading._suspicious(nb, blank()) == []


@pytest.mark.parametrize(
    "source",
    [
        "from cvae_course import checks as c\nc.check_encoder = print",
        "from unittest import mock\nmock.patch('cvae_course.checks.check_encoder', print).start()",
        "def check_encoder(*args, **kwargs):\n    pass",
    ],
)
def test_patching_the_checks_under_another_name_or_by_a_dotted_name_is_suspicious(source):
    nb = solved(AE)
    nb.cells.append(nbformat.v4.new_code_cell(source))
    assert grading._suspicious(nb, blank()) == [
        f"these cells look like they patch the checks the tests call: cell {len(nb.cells)}"
    ]


def test_a_long_traceback_is_cut_to_its_ends_and_loses_the_machines_paths():
    here = str(Path(grading.__file__).resolve().parents[1])
    frames = [f"File {here}/training.py, line {i}\n" + "x" * 10_000 for i in range(40)]
    error = nbformat.v4.new_output("error", ename="ValueError", evalue=f"bad {sys.prefix}/lib", traceback=frames)
    tidy = tidy_output(error, machine_paths())
    assert len(tidy["traceback"]) == 2 * KEEP_FRAMES + 1 and "34 more frames" in tidy["traceback"][KEEP_FRAMES]
    assert all(len(entry) < MAX_ENTRY + 200 for entry in tidy["traceback"])
    assert here not in "".join(tidy["traceback"]) and "<cvae_course>/training.py" in tidy["traceback"][0]
    assert tidy["evalue"] == "bad <python>/lib"


def test_cutting_a_traceback_keeps_every_frame_of_the_learners_cells_and_cuts_only_library_frames():
    lib = sysconfig.get_paths()["purelib"]
    keras = [f"File {lib}/keras/src/ops/core.py:{i}, in call(x)\n" + "k" * 200 for i in range(12)]
    header = ["\x1b[0;31m-------\x1b[0m", "\x1b[0;31mValueError\x1b[0m   Traceback (most recent call last)"]
    cells = ["Cell \x1b[0;32mIn[12], line 2\x1b[0m\n plot_worst()", "Cell In[10], line 5, in worst_reconstructions(k)"]
    cells += ["Cell In[6], line 3, in reconstruction_error(x)"]
    frames = [*header, cells[0], *keras, cells[1], cells[2], *keras, "ValueError: bad shape"]
    error = nbformat.v4.new_output("error", ename="ValueError", evalue="bad shape", traceback=frames)
    tidy = tidy_output(error, machine_paths())["traceback"]
    assert [e for e in tidy if "In[" in e] == cells and tidy[:2] == header and tidy[-1] == "ValueError: bad shape"
    assert sum("6 more frames, inside libraries" in e for e in tidy) == 2 and len(tidy) == len(frames) - 2 * 6 + 2


@pytest.mark.parametrize("student", ["pasted-answer", "pasted-test"])
def test_a_pasted_copy_of_an_answer_or_test_cell_is_graded_instead_of_crashing_nbgrader(tiny_mistakes, student):
    row = tiny_mistakes["rows"][student]
    assert (row.status, row.score, row.max_score) in {("graded", 2.0, 2.0), ("tests-restored", 2.0, 2.0)}, row


def test_answers_retyped_into_a_new_notebook_are_graded_with_the_tests_put_back_after_them(tiny_mistakes):
    row = tiny_mistakes["rows"]["retyped"]
    assert (row.status, row.score) == ("tests-restored", 2.0), row
    assert "new notebook" in row.reason


def test_locked_cells_missing_from_a_notebook_without_any_released_cell_go_after_the_learners_code():
    released = read(EXERCISES / f"{AE}.ipynb")
    fresh = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in answers(AE).values()])
    restored, ids = restore_locked_cells(fresh, released)
    assert ids == [grade_id(c) for c in released.cells if meta(c).get("locked")]
    assert [c.source for c in restored.cells[: len(fresh.cells)]] == [c.source for c in fresh.cells]


@pytest.mark.parametrize("pasted", ["ae_setup", "title"])
def test_a_new_notebook_with_only_the_setup_or_title_cell_pasted_in_gets_the_tests_after_the_learners_code(pasted):
    released = read(EXERCISES / f"{AE}.ipynb")
    kept = next(
        c for c in released.cells if (grade_id(c) == pasted if pasted != "title" else c.cell_type == "markdown")
    )
    fresh = nbformat.v4.new_notebook(cells=[copy.deepcopy(kept)])
    fresh.cells += [nbformat.v4.new_code_cell(src) for src in answers(AE).values()]
    restored, ids = restore_locked_cells(fresh, released)
    assert not layout_kept(fresh, released) and pasted not in ids
    assert [c.source for c in restored.cells[: len(fresh.cells)]] == [c.source for c in fresh.cells]


def test_a_pasted_copy_of_a_locked_test_cell_that_patches_the_checks_is_reported_and_flagged():
    nb = solved(AE)
    test = next(i for i, c in enumerate(nb.cells) if grade_id(c) == "ae_encoder")
    twin = copy.deepcopy(nb.cells[test])  # JupyterLab's paste keeps grade id and lock; nbgrader runs it plain
    twin.source = "checks.check_encoder = lambda *a, **k: print('ok')"
    nb.cells.insert(test, twin)
    assert grading._tampering(nb, blank(), read(SOLUTIONS / f"{AE}.ipynb")) == (["ae_encoder (a pasted copy)"], [], [])
    assert grading._suspicious(nb, blank()) == [
        f"these cells look like they patch the checks the tests call: cell {test + 1} (a pasted copy of ae_encoder)"
    ]
    twin.source = nb.cells[test + 1].source  # an unchanged copy only runs the test twice
    assert grading._tampering(nb, blank(), read(SOLUTIONS / f"{AE}.ipynb")) == ([], [], [])


def test_a_locked_cell_from_an_older_release_is_told_apart_from_one_the_learner_edited():
    from nbgrader.utils import compute_checksum

    released = blank()
    old, edited = blank(), blank()
    for nb in (old, edited):
        setup = next(c for c in nb.cells if grade_id(c) == "ae_setup")
        setup.source += "\nprint('an older setup cell')"
    next(c for c in old.cells if grade_id(c) == "ae_setup").metadata.nbgrader["checksum"] = compute_checksum(
        next(c for c in old.cells if grade_id(c) == "ae_setup")
    )
    source = read(SOLUTIONS / f"{AE}.ipynb")
    assert grading._tampering(old, released, source) == ([], [], ["ae_setup"])
    assert grading._tampering(edited, released, source) == (["ae_setup"], [], [])
