"""Specification of the self-check quiz widget (cvae_course.quiz)."""

from pathlib import Path

import pytest

from cvae_course.quiz import QUIZ_CSS, Question, Quiz


def make_question(**changes):
    args = dict(
        prompt="What does the KL term pull q(z|x) towards?",
        options=["the data", "the prior N(0, I)", "the decoder"],
        answer=1,
        explanation="KL(q || p) is zero only when q equals the prior.",
    )
    args.update(changes)
    return Question(**args)


def test_question_text_numbers_the_prompt_and_letters_the_options():
    assert make_question().text(2) == (
        "2. What does the KL term pull q(z|x) towards?\n   (a) the data\n   (b) the prior N(0, I)\n   (c) the decoder"
    )


def test_question_text_does_not_give_the_answer_away():
    assert "KL(q || p) is zero" not in make_question().text()


def test_feedback_for_the_right_option_says_correct_and_explains():
    assert make_question().feedback(1) == (
        "Correct: (b) the prior N(0, I). KL(q || p) is zero only when q equals the prior."
    )


def test_feedback_for_a_wrong_option_reveals_the_answer_and_explains():
    assert make_question().feedback(0) == (
        "Not quite. The answer is (b) the prior N(0, I). KL(q || p) is zero only when q equals the prior."
    )


def test_feedback_without_a_choice_asks_for_one():
    assert make_question().feedback(None) == "Pick one of the options first."


def test_feedback_rejects_a_choice_that_is_not_an_option():
    with pytest.raises(ValueError, match="choice"):
        make_question().feedback(3)


@pytest.mark.parametrize("answer", [3, -1, True, "b", 1.0])
def test_answer_must_be_the_index_of_an_option(answer):
    with pytest.raises(ValueError, match="answer must be the index"):
        make_question(answer=answer)


def test_options_must_differ():
    with pytest.raises(ValueError, match="options must all differ"):
        make_question(options=["yes", "yes"], answer=0)


def test_a_question_needs_at_least_two_options():
    with pytest.raises(ValueError, match="2 to 10 choices, got 1"):
        make_question(options=["only one"], answer=0)


def test_options_given_as_one_string_are_rejected():
    with pytest.raises(ValueError, match="options must be a list of strings"):
        make_question(options="abc", answer=0)


@pytest.mark.parametrize("field", ["prompt", "explanation"])
def test_prompt_and_explanation_must_not_be_empty(field):
    with pytest.raises(ValueError, match=field):
        make_question(**{field: "  "})


def test_quiz_text_is_the_title_then_the_numbered_questions():
    quiz = Quiz([make_question(), make_question(prompt="Second?")], title="Check yourself")
    assert quiz.text() == "\n\n".join(
        ["Check yourself", make_question().text(1), make_question(prompt="Second?").text(2)]
    )


def test_quiz_shows_its_plain_text_next_to_the_widget():
    quiz = Quiz([make_question()])
    bundle = quiz._repr_mimebundle_()
    assert bundle["text/plain"] == quiz.text()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == quiz.widget.model_id


def test_quiz_text_stays_the_same_after_answering():
    quiz = Quiz([make_question()])
    before = quiz._repr_mimebundle_()["text/plain"]
    quiz.widget
    quiz.choosers[0].value = 0
    quiz.buttons[0].click()
    assert quiz._repr_mimebundle_()["text/plain"] == before


def test_pressing_check_on_the_right_option_shows_correct_feedback():
    quiz = Quiz([make_question()])
    quiz.widget
    quiz.choosers[0].value = 1
    quiz.buttons[0].click()
    assert "<b>Correct:</b> (b) the prior N(0, I)." in quiz.feedbacks[0].value


def test_pressing_check_on_a_wrong_option_reveals_the_answer():
    quiz = Quiz([make_question()])
    quiz.widget
    quiz.choosers[0].value = 2
    quiz.buttons[0].click()
    assert "<b>Not quite.</b> The answer is (b) the prior N(0, I)." in quiz.feedbacks[0].value


def test_a_right_answer_after_a_wrong_first_pick_says_what_the_first_pick_was():
    quiz = Quiz([make_question()])
    quiz.widget
    quiz.choosers[0].value = 2
    quiz.buttons[0].click()
    quiz.choosers[0].value = 1
    quiz.buttons[0].click()
    assert "<b>Correct:</b>" in quiz.feedbacks[0].value and "Your first pick was (c)" in quiz.feedbacks[0].value


def test_a_new_pick_clears_the_feedback_of_the_old_one():
    quiz = Quiz([make_question()])
    quiz.widget
    quiz.choosers[0].value = 2
    quiz.buttons[0].click()
    assert "Not quite." in quiz.feedbacks[0].value
    quiz.choosers[0].value = 0
    assert quiz.feedbacks[0].value == ""


def test_quiz_options_may_wrap_in_a_narrow_cell():
    """A fixed max-content width cut long options off in a narrow window; the browser test measures the page."""
    quiz = Quiz([make_question()])
    box = quiz.widget
    layout = quiz.choosers[0].layout
    assert layout.width == "auto" and layout.max_width == "100%" and "cvae-quiz" in box._dom_classes
    assert "white-space: normal" in QUIZ_CSS and QUIZ_CSS in box.children[0].value


def test_each_question_gets_its_own_feedback():
    quiz = Quiz([make_question(), make_question(prompt="Second?")])
    quiz.widget
    quiz.choosers[1].value = 1
    quiz.buttons[1].click()
    assert quiz.feedbacks[0].value == ""
    assert "Correct" in quiz.feedbacks[1].value


def test_feedback_escapes_html_in_the_text():
    quiz = Quiz([make_question(explanation="Because p < q & q > r.")])
    quiz.widget
    quiz.choosers[0].value = 1
    quiz.buttons[0].click()
    assert "p &lt; q &amp; q &gt; r" in quiz.feedbacks[0].value


def test_a_quiz_needs_questions():
    with pytest.raises(ValueError, match="non-empty list of Question"):
        Quiz([])


def test_a_quiz_accepts_only_question_objects():
    with pytest.raises(ValueError, match=r"questions\[1\] must be a quiz.Question, got str"):
        Quiz([make_question(), "What is a VAE?"])


# ------------------------------------------------------------------------------------------- the quiz files
from cvae_course import quiz as quiz_module  # noqa: E402


def test_every_lesson_quiz_loads_from_package_data():
    names = quiz_module.available()
    assert names, "no quiz files found in cvae_course/quizzes"
    for name in names:
        loaded = quiz_module.load(name)
        assert loaded.questions and loaded.text().startswith(loaded.title)


def test_an_unknown_lesson_names_the_quizzes_there_are():
    with pytest.raises(ValueError, match=r"no quiz for lesson '99_nothing'; the quizzes are \['00_welcome'"):
        quiz_module.load("99_nothing")


def test_feedback_never_doubles_the_full_stop_of_an_option():
    q = make_question(options=["the data.", "the prior N(0, I).", "the decoder."])
    assert q.feedback(1).startswith("Correct: (b) the prior N(0, I). KL")
    assert ".." not in q.feedback(0)


def test_feedback_keeps_the_theme_text_colour_and_marks_the_verdict_with_a_bar():
    q = make_question()
    right, wrong = quiz_module.feedback_html(q, 1), quiz_module.feedback_html(q, 0)
    assert "color: var(--jp-content-font-color1" in right and "--jp-success-color1" in right
    assert "--jp-error-color1" in wrong and "<b>Not quite.</b> The answer is (b)" in wrong
    assert "<b>Correct:</b> (b) the prior" in right
    assert "firebrick" not in right + wrong and "green" not in right + wrong


# ------------------------------------------------------------------------------------------- balanced quiz files
# A learner must not find the right option by its length or its position, in any quiz file: the rules on the right
# option's length and position hold per file (a learner takes one lesson's self-check at a time), so a file whose right
# option is always the longest is caught even when the other files make up for it.
MAX_LENGTH_RATIO = 1.6  # within a question: the longest option at most 1.6 times the shortest (in characters)


def _balanced_questions():
    return [
        (name, i + 1, q) for name in quiz_module.available() for i, q in enumerate(quiz_module.load(name).questions)
    ]


def _by_file(questions):
    files = {}
    for name, n, q in questions:
        files.setdefault(name, []).append((name, n, q))
    return files


def _uneven(questions):
    """The questions whose longest option is over MAX_LENGTH_RATIO times their shortest."""
    return [
        f"{name} question {n}: {[len(o) for o in q.options]} characters"
        for name, n, q in questions
        if max(map(len, q.options)) > MAX_LENGTH_RATIO * min(map(len, q.options))
    ]


def _stands_out(questions, extreme):
    """Per file, the questions whose right option is strictly the ``extreme`` (max: longest, min: shortest) in
    length, where that is over a third of the file's questions."""
    found = []
    for name, file_questions in _by_file(questions).items():
        marked = []
        for _, n, q in file_questions:
            lengths = [len(o) for o in q.options]
            if lengths[q.answer] == extreme(lengths) and lengths.count(extreme(lengths)) == 1:
                marked.append(f"{name} question {n}")
        if len(marked) > len(file_questions) / 3:
            found += marked
    return found


def _longest_is_right(questions):
    return _stands_out(questions, max)


def _shortest_is_right(questions):
    return _stands_out(questions, min)


def _crowded_position(questions):
    """Per file, right answers per letter, when one letter holds more than half of the file's right answers."""
    crowded = {}
    for name, file_questions in _by_file(questions).items():
        counts = {}
        for _, _, q in file_questions:
            letter = quiz_module.LETTERS[q.answer]
            counts[letter] = counts.get(letter, 0) + 1
        if max(counts.values()) > len(file_questions) / 2:
            crowded[name] = counts
    return crowded


def test_every_lesson_has_a_quiz_and_the_balance_rules_check_every_one():
    lessons = {p.stem for p in (Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert len(lessons) >= 8 and set(quiz_module.available()) == lessons
    assert {name for name, _, _ in _balanced_questions()} == lessons


def test_within_a_question_the_options_have_similar_lengths():
    assert _uneven(_balanced_questions()) == []


def test_the_right_option_is_the_longest_in_at_most_a_third_of_each_files_questions():
    assert _longest_is_right(_balanced_questions()) == []


def test_the_right_option_is_the_shortest_in_at_most_a_third_of_each_files_questions():
    assert _shortest_is_right(_balanced_questions()) == []


def test_no_position_holds_more_than_half_of_any_files_right_answers():
    assert _crowded_position(_balanced_questions()) == {}


def test_the_balance_rules_catch_a_quiz_that_gives_its_answers_away():
    """A made-up quiz whose right option is always the long one at (b) breaks all three rules."""
    telltale = [
        (
            "made-up",
            i,
            Question(f"Question {i}?", ["short", "the right one, much longer than the rest", "brief"], 1, "Because."),
        )
        for i in range(3)
    ]
    assert len(_uneven(telltale)) == 3 and len(_longest_is_right(telltale)) == 3
    assert _crowded_position(telltale) == {"made-up": {"b": 3}}


def test_the_shortest_option_rule_catches_a_quiz_whose_right_answer_is_always_the_short_one():
    terse = [
        (
            "made-up",
            i,
            Question(f"Question {i}?", ["a wrong one, a bit longer", "the right one", "another wrong one"], 1, "."),
        )
        for i in range(3)
    ]
    assert _shortest_is_right(terse) == [f"made-up question {i}" for i in range(3)]
    assert _longest_is_right(terse) == []


def test_the_balance_rules_catch_one_telltale_file_among_balanced_ones():
    """A file whose right option is always the longest is caught, though the other files' questions outnumber it."""
    balanced = _balanced_questions()
    telltale = [
        (
            "made-up",
            i,
            Question(f"Question {i}?", ["a short one", "the right one, a bit longer", "a brief one"], 1, "."),
        )
        for i in range(3)
    ]
    assert _longest_is_right(balanced) == []
    assert _longest_is_right(balanced + telltale) == [f"made-up question {i}" for i in range(3)]
    assert set(_crowded_position(balanced + telltale)) == {"made-up"}
