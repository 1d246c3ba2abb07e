"""Self-check quizzes at the end of a lesson: multiple choice, answered with ipywidgets.

A learner picks an option and presses "Check"; the feedback says whether the pick is right, reveals the
answer and explains it. The plain text of a quiz (what a frontend without widgets shows, and what nbval
compares) depends only on the questions: no shuffling, no widget ids. Answers never appear in it.

The questions of each lesson live in package data, ``cvae_course/quizzes/<lesson>.toml``, not in the notebook:
a learner who reads the lesson's cells does not see the answers before answering. A lesson shows its quiz with

    quiz.load("02_variational_autoencoder")

and a quiz file holds a title and ``[[question]]`` tables with ``prompt``, ``options``, ``answer`` (the index of
the right option, 0 = a) and ``explanation``. Questions can also be built in code::

    quiz.Quiz([
        quiz.Question("What does the KL term pull q(z|x) towards?",
                      ["the data", "the prior N(0, I)", "the decoder"], answer=1,
                      explanation="KL(q(z|x) || p(z)) is zero only when q equals the prior."),
    ])
"""

from __future__ import annotations

import html
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from cvae_course.validation import check_text

__all__ = ["LETTERS", "Question", "Quiz", "available", "load"]

LETTERS = "abcdefghij"


@dataclass(frozen=True)
class Question:
    """One multiple-choice question: ``answer`` is the index of the right option in ``options``."""

    prompt: str
    options: tuple[str, ...]
    answer: int
    explanation: str

    def __init__(self, prompt: str, options: Sequence[str], answer: int, explanation: str):
        prompt = check_text(prompt, "prompt")
        if isinstance(options, str) or not isinstance(options, Sequence):
            raise ValueError(f"options must be a list of strings, got {type(options).__name__}")
        opts = tuple(check_text(o, f"options[{i}]") for i, o in enumerate(options))
        if not 2 <= len(opts) <= len(LETTERS):
            raise ValueError(f"options must hold 2 to {len(LETTERS)} choices, got {len(opts)}")
        if len(set(opts)) != len(opts):
            raise ValueError(f"options must all differ (a learner could not tell them apart), got {list(opts)}")
        if isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer < len(opts):
            raise ValueError(
                f"answer must be the index of the right option, an int from 0 to {len(opts) - 1}, got {answer!r}"
            )
        object.__setattr__(self, "prompt", prompt)
        object.__setattr__(self, "options", opts)
        object.__setattr__(self, "answer", answer)
        object.__setattr__(self, "explanation", check_text(explanation, "explanation"))

    def option_label(self, index: int) -> str:
        """'(b) the prior N(0, I)'"""
        return f"({LETTERS[index]}) {self.options[index]}"

    def text(self, number: int = 1) -> str:
        """The question and its options as plain text, without the answer."""
        lines = [f"{number}. {self.prompt}"]
        lines += [f"   {self.option_label(i)}" for i in range(len(self.options))]
        return "\n".join(lines)

    def feedback(self, choice: int | None) -> str:
        """What the learner reads after pressing Check with option ``choice`` (None: nothing picked)."""
        if choice is None:
            return "Pick one of the options first."
        if not isinstance(choice, int) or not 0 <= choice < len(self.options):
            raise ValueError(f"choice must be an option index 0-{len(self.options) - 1} or None, got {choice!r}")
        # An option that ends with its own full stop must not get a second one.
        answer = self.option_label(self.answer).rstrip(".")
        if choice == self.answer:
            return f"Correct: {answer}. {self.explanation}"
        return f"Not quite. The answer is {answer}. {self.explanation}"


class Quiz:
    """A list of questions shown as one widget; displaying it in a notebook shows the widget."""

    def __init__(self, questions: Sequence[Question], title: str = "Self-check"):
        questions = list(questions) if isinstance(questions, Sequence) else questions
        if not isinstance(questions, list) or not questions:
            raise ValueError(f"questions must be a non-empty list of Question, got {questions!r}")
        for i, q in enumerate(questions):
            if not isinstance(q, Question):
                raise ValueError(f"questions[{i}] must be a quiz.Question, got {type(q).__name__}")
        self.questions = tuple(questions)
        self.title = check_text(title, "title")
        self._widget = None

    def text(self) -> str:
        """The whole quiz as plain text (title, numbered questions, lettered options), without answers."""
        blocks = [self.title] + [q.text(i + 1) for i, q in enumerate(self.questions)]
        return "\n\n".join(blocks)

    def __repr__(self) -> str:
        return self.text()

    @property
    def widget(self):
        """The ipywidgets box: per question the prompt, the options, a Check button and the feedback."""
        if self._widget is None:
            import ipywidgets as widgets

            rows = [widgets.HTML(f"<style>{QUIZ_CSS}</style><h4>{html.escape(self.title)}</h4>")]
            self.choosers, self.buttons, self.feedbacks = [], [], []
            for i, q in enumerate(self.questions):
                chooser = widgets.RadioButtons(
                    options=[(q.option_label(k), k) for k in range(len(q.options))],
                    value=None,
                    layout=widgets.Layout(width="auto", max_width="100%"),  # long options wrap (QUIZ_CSS)
                )
                button = widgets.Button(description="Check", button_style="primary")
                feedback = widgets.HTML()
                button.on_click(self._checker(q, chooser, feedback))
                rows.append(widgets.HTML(f"<b>{i + 1}. {html.escape(q.prompt)}</b>"))
                rows += [chooser, button, feedback]
                self.choosers.append(chooser)
                self.buttons.append(button)
                self.feedbacks.append(feedback)
            self._widget = widgets.VBox(rows)
            self._widget.add_class("cvae-quiz")
        return self._widget

    @staticmethod
    def _checker(question: Question, chooser, feedback):
        first = []  # the first option checked: a right answer after a wrong one says so

        def on_click(_button):
            if chooser.value is not None and not first:
                first.append(chooser.value)
            feedback.value = feedback_html(question, chooser.value, first[0] if first else None)

        # a new pick clears the feedback of the old one (it would read as the verdict on the new pick)
        chooser.observe(lambda _change: setattr(feedback, "value", ""), names="value")
        return on_click

    def _repr_mimebundle_(self, include=None, exclude=None):
        """The widget for JupyterLab, and the quiz's plain text for everything else (and for nbval)."""
        bundle = dict(self.widget._repr_mimebundle_() or {})
        bundle["text/plain"] = self.text()
        return bundle


# ipywidgets gives each radio option one fixed-height line and each HTML widget a 28 px line height: a long option
# would be cut off in a narrow window and a wrapped prompt double-spaced. In a quiz, options and text wrap instead.
QUIZ_CSS = (
    ".cvae-quiz .widget-radio-box label { height: auto; min-height: var(--jp-widgets-radio-item-height);"
    " line-height: 1.4; display: flex; align-items: flex-start; padding: 3px 0; white-space: normal;"
    " overflow-wrap: anywhere; }"
    " .cvae-quiz .widget-radio-box input { float: none; flex: none; height: 1.4em; margin-top: 0; }"
    " .cvae-quiz .widget-html-content { line-height: 1.4; white-space: normal; }"
)


# The feedback text keeps the theme's own text colour (readable in the light and the dark theme alike); the verdict
# is carried by a bold word and a coloured bar beside it, from JupyterLab's theme variables (with fallbacks for
# frontends without them), never by the colour of the text alone.
_BAR = {
    "right": "var(--jp-success-color1, #388e3c)",
    "wrong": "var(--jp-error-color1, #d32f2f)",
    "none": "var(--jp-border-color1, #9e9e9e)",
}


def feedback_html(question: Question, choice: int | None, first: int | None = None) -> str:
    """The HTML shown under a question after "Check": the verdict and explanation, themed for light and dark.
    ``first``: the option checked first; a right answer after a wrong first pick says what that pick was."""
    text = question.feedback(choice)
    kind = "none" if choice is None else ("right" if choice == question.answer else "wrong")
    verdict = {"right": "Correct:", "wrong": "Not quite.", "none": ""}[kind]
    rest = text[len(verdict) :].lstrip() if verdict and text.startswith(verdict) else text
    if kind == "right" and first is not None and first != question.answer:
        rest = f"{rest} (Your first pick was {question.option_label(first).rstrip('.')}.)"
    head = f"<b>{html.escape(verdict)}</b> " if verdict else ""
    return (
        f'<div class="cvae-quiz-feedback cvae-quiz-{kind}" style="border-left: 4px solid {_BAR[kind]}; '
        f'padding: 2px 0 2px 8px; color: var(--jp-content-font-color1, inherit);">'
        f"{head}{html.escape(rest)}</div>"
    )


def available() -> list[str]:
    """The lessons that have a quiz file, e.g. ['00_welcome', '01_autoencoder', ...]."""
    folder = resources.files("cvae_course") / "quizzes"
    return sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))


def load(lesson: str) -> Quiz:
    """The self-check quiz of ``lesson`` (a notebook name without .ipynb), read from the package's quiz files."""
    names = available()
    if lesson not in names:
        raise ValueError(f"there is no quiz for lesson {lesson!r}; the quizzes are {names}")
    path = resources.files("cvae_course") / "quizzes" / f"{lesson}.toml"
    try:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ValueError(
            f"the quiz file of {lesson!r} is not valid TOML ({err}); fix cvae_course/quizzes/{lesson}.toml"
        ) from err
    raw = spec.get("question")
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"the quiz file of {lesson!r} has no [[question]] tables")
    questions = []
    for i, q in enumerate(raw):
        missing = sorted({"prompt", "options", "answer", "explanation"} - set(q))
        if missing:
            raise ValueError(f"question {i + 1} of the quiz of {lesson!r} lacks {missing}")
        questions.append(Question(q["prompt"], q["options"], q["answer"], q["explanation"]))
    return Quiz(questions, spec.get("title", "Self-check"))
