"""Specification of claim cells (cvae_course.claims): a lesson's sentence checked by the run that made the result."""

import numpy as np
import pytest

from cvae_course import settings
from cvae_course.claims import MIME, ClaimFailed, claim, format_measured, records


@pytest.fixture
def full_mode(monkeypatch):
    monkeypatch.setenv(settings.FAST_ENV, "0")


@pytest.fixture
def fast_mode(monkeypatch):
    monkeypatch.setenv(settings.FAST_ENV, "1")


def test_a_claim_that_holds_prints_a_tick_the_sentence_and_the_measured_value(capsys, fast_mode):
    record = claim("the codes spread more than 1", np.float32(1.3) > 1, measured=np.float32(1.3))
    assert record.status == "holds"
    assert capsys.readouterr().out.strip() == "\u2714 the codes spread more than 1 (measured 1.3)"


def test_a_claim_that_fails_raises_and_names_the_sentence_and_the_value(fast_mode):
    with pytest.raises(ClaimFailed, match=r'the lesson says "the KL is above 5 nats", but this run measured 0\.25'):
        claim("the KL is above 5 nats", 0.25 > 5, measured=0.25)


def test_a_failed_claim_is_an_assertion_error_so_nbval_and_pytest_report_it(fast_mode):
    with pytest.raises(AssertionError):
        claim("one is two", False)


def test_a_full_mode_claim_is_not_checked_in_fast_mode_and_says_why(capsys, fast_mode):
    record = claim(
        "the judge reads 99% of the samples",
        False,
        measured=0.71,
        full_only=True,
        reason="two epochs are not enough to draw every digit",
    )
    assert record.status == "not checked"
    out = capsys.readouterr().out
    assert "not checked in fast mode (two epochs are not enough to draw every digit)" in out
    assert "the judge reads 99% of the samples (measured 0.71)" in out


def test_a_full_mode_claim_is_checked_in_full_mode(full_mode):
    with pytest.raises(ClaimFailed, match="a full-mode claim"):
        claim("the judge reads 99% of the samples", False, measured=0.71, full_only=True)
    assert claim("the judge reads 99% of the samples", True, measured=0.995, full_only=True).status == "holds"


def test_the_check_must_be_one_boolean_not_an_array(fast_mode):
    with pytest.raises(ValueError, match=r"reduce an array with \.all\(\) or \.any\(\)"):
        claim("both axes spread more than 1", np.array([1.2, 0.9]) > 1)
    with pytest.raises(ValueError, match="single True/False"):
        claim("a number is not a verdict", 1.0)


def test_the_sentence_must_be_given(fast_mode):
    with pytest.raises(ValueError, match="sentence"):
        claim("  ", True)


def test_measured_values_read_well():
    assert format_measured(np.float64(135.04321)) == "135"
    assert format_measured(0.98765) == "0.988"
    assert format_measured(np.array([1.134, 1.3])) == "[1.13, 1.3]"
    assert format_measured(24345) == "24,345"
    assert format_measured({"ink": 0.331, "slant": 0.85}) == "ink 0.331, slant 0.85"
    assert format_measured(None) == ""


def test_in_a_notebook_the_claim_is_recorded_for_the_full_course_report(fast_mode):
    """The display bundle carries the record; records() reads it back from a cell's stored outputs."""
    record = claim("one plus one is two", 1 + 1 == 2, measured=2)
    stored = [
        {
            "output_type": "display_data",
            "data": {
                "text/plain": record.line(),
                MIME: {
                    "sentence": record.sentence,
                    "measured": record.measured,
                    "status": record.status,
                    "mode": record.mode,
                    "full_only": record.full_only,
                    "reason": record.reason,
                },
            },
        }
    ]
    assert records(stored) == [
        {
            "sentence": "one plus one is two",
            "measured": "2",
            "status": "holds",
            "mode": "fast",
            "full_only": False,
            "reason": "",
        }
    ]


def test_a_claim_cell_ending_in_claim_shows_its_line_once(fast_mode):
    """The returned record is the cell's value; it must not be displayed a second time as Claim(...)."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    result = shell.run_cell("from cvae_course.claims import claim\nclaim('one is one', 1 == 1)")
    assert result.success and result.result.status == "holds"
    formatted, _ = shell.display_formatter.format(result.result)
    assert formatted == {}


def test_a_failed_claim_is_shown_in_bold_in_the_themes_colour_not_in_red():
    # bold ANSI red on JupyterLab's dark error background is hard to read (the exercise checks changed likewise)
    assert ClaimFailed("the gap shrinks")._render_traceback_() == ["\x1b[1mClaim failed:\x1b[0m the gap shrinks"]
