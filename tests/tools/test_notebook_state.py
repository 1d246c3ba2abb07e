"""The lessons are committed as a learner should first see them, with the references nbval needs."""

import nbformat
import pytest

from cvae_course.tools import NOTEBOOKS, notebook_state

LESSONS = sorted(NOTEBOOKS.glob("*.ipynb"))

# Lessons whose owners are still converting them to the tag rules (the nbval-check-output tag instead of the
# comment, and the train tag on every training cell): they are checked without those two rules until their names
# leave this set. Every other lesson, and every new one, meets them. When the set is empty, the comment goes.
NOT_YET_CONVERTED = {"04_cvae_playground"}


def test_every_lesson_of_the_course_map_exists():
    names = [p.stem[:2] for p in LESSONS]
    assert names[:6] == ["00", "01", "02", "03", "04", "05"]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_a_lesson_keeps_only_the_outputs_nbval_checks(path):
    strict = path.stem not in NOT_YET_CONVERTED
    assert notebook_state.problems(nbformat.read(path, as_version=4), strict=strict) == []


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_a_lesson_has_at_least_one_checked_cell(path):
    nb = nbformat.read(path, as_version=4)
    assert any(notebook_state.is_checked(c) for c in nb.cells)


def _tagged(source, *tags, **fields):
    cell = nbformat.v4.new_code_cell(source, **fields)
    cell.metadata["tags"] = list(tags)
    return cell


def test_a_marked_cell_without_stored_output_is_reported():
    nb = nbformat.v4.new_notebook(cells=[_tagged("print(1)", "nbval-check-output")])
    assert notebook_state.problems(nb) == [
        "cell 0 is marked nbval-check-output but has no stored output to compare against"
    ]


def test_the_comment_mark_is_refused_once_a_lesson_is_converted():
    out = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)", execution_count=1, outputs=out)]
    )
    assert notebook_state.problems(nb) == [
        "cell 0 marks its output with the comment # NBVAL_CHECK_OUTPUT; remove "
        "the comment and tag the cell 'nbval-check-output' instead"
    ]
    assert notebook_state.problems(nb, strict=False) == []


@pytest.mark.parametrize(
    "source",
    [
        "history = training.train(model, x, epochs=3)",
        "judge = recipes.load_judge()",
        "cvae = recipes.train_cvae(mnist)",
        "model.fit(x, epochs=1)",
    ],
)
def test_a_cell_that_trains_must_be_tagged_train(source):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    assert notebook_state.problems(nb) == [
        "cell 0 trains a model but is not tagged 'train' (the full-course report times the cells so tagged)"
    ]
    assert notebook_state.problems(nbformat.v4.new_notebook(cells=[_tagged(source, "train")])) == []


@pytest.mark.parametrize(
    "source", ["recipes.save_cvae(model)", "training.format_logs(1, 2, {}, 0.1)", "x_train = mnist.x_train"]
)
def test_a_cell_that_does_not_train_needs_no_tag(source):
    assert not notebook_state.trains(nbformat.v4.new_code_cell(source))


def test_an_unmarked_cell_with_output_is_reported():
    cell = nbformat.v4.new_code_cell(
        "print(1)", execution_count=1, outputs=[nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    )
    assert notebook_state.problems(nbformat.v4.new_notebook(cells=[cell])) == [
        "cell 0 is not marked nbval-check-output but keeps an output or execution count"
    ]


def test_strip_keeps_marked_outputs_and_clears_the_rest():
    out = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    nb = nbformat.v4.new_notebook(
        cells=[
            _tagged("print(1)", "nbval-check-output", execution_count=1, outputs=list(out)),
            nbformat.v4.new_code_cell("print(1)", execution_count=2, outputs=list(out)),
        ]
    )
    notebook_state.strip(nb)
    assert nb.cells[0].outputs == out and nb.cells[0].execution_count == 1
    assert nb.cells[1].outputs == [] and nb.cells[1].execution_count is None


def _claim_cell(source="claim('one is one', 1 == 1)", hidden=True, tags=("claim",)):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = list(tags)
    if hidden:
        cell.metadata["jupyter"] = {"source_hidden": True}
    return cell


def test_a_hidden_tagged_claim_cell_is_in_order():
    assert notebook_state.problems(nbformat.v4.new_notebook(cells=[_claim_cell()])) == []


def test_a_claim_cell_must_hide_its_input():
    nb = nbformat.v4.new_notebook(cells=[_claim_cell(hidden=False)])
    assert notebook_state.problems(nb) == [
        'cell 0 is a claim cell whose input is not hidden (set metadata "jupyter": {"source_hidden": true})'
    ]


def test_a_claim_outside_a_claim_cell_is_reported():
    nb = nbformat.v4.new_notebook(cells=[_claim_cell(tags=())])
    assert notebook_state.problems(nb) == [
        "cell 0 calls claim(...) but is not tagged 'claim' (claims go in hidden claim cells)"
    ]


def test_a_claim_cell_without_a_claim_is_reported():
    nb = nbformat.v4.new_notebook(cells=[_claim_cell(source="x = 1")])
    assert notebook_state.problems(nb) == ["cell 0 is tagged 'claim' but checks no claim(...)"]
