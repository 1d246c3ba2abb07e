"""Self-check quizzes at the end of a lesson: multiple choice, answered with ipywidgets.

A learner picks an option and presses "Check"; the feedback says whether the pick is right, reveals the
answer and explains it. The plain text of a quiz (what a frontend without widgets shows, and what nbval
compares) depends only on the questions: no shuffling, no widget ids. Answers never appear in it.

    quiz.Quiz([
        quiz.Question("What does the KL term pull q(z|x) towards?",
                      ["the data", "the prior N(0, I)", "the decoder"], answer=1,
                      explanation="KL(q(z|x) || p(z)) is zero only when q equals the prior."),
    ])
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Sequence

from cvae_course.validation import check_text

__all__ = ["LETTERS", "Question", "Quiz"]

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
        if choice == self.answer:
            return f"Correct: {self.option_label(self.answer)}. {self.explanation}"
        return f"Not quite. The answer is {self.option_label(self.answer)}. {self.explanation}"


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

            rows = [widgets.HTML(f"<h4>{html.escape(self.title)}</h4>")]
            self.choosers, self.buttons, self.feedbacks = [], [], []
            for i, q in enumerate(self.questions):
                chooser = widgets.RadioButtons(
                    options=[(q.option_label(k), k) for k in range(len(q.options))],
                    value=None,
                    layout=widgets.Layout(width="max-content"),
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
        return self._widget

    @staticmethod
    def _checker(question: Question, chooser, feedback):
        def on_click(_button):
            text = question.feedback(chooser.value)
            colour = "green" if chooser.value == question.answer else ("gray" if chooser.value is None else "firebrick")
            feedback.value = f'<span style="color:{colour}">{html.escape(text)}</span>'

        return on_click

    def _repr_mimebundle_(self, include=None, exclude=None):
        """The widget for JupyterLab, and the quiz's plain text for everything else (and for nbval)."""
        bundle = dict(self.widget._repr_mimebundle_() or {})
        bundle["text/plain"] = self.text()
        return bundle
