"""Lessons show package code with show_source instead of copying it."""

import pytest

from cvae_course.layers import Sampling
from cvae_course.source import show_source, source_of


def test_source_of_a_method_is_its_dedented_code():
    code = source_of(Sampling.call)
    assert code.startswith("def call(self, inputs):") and "ops.exp(0.5 * z_log_var)" in code


def test_show_source_renders_as_a_python_code_block():
    shown = show_source(Sampling.call)
    assert shown._repr_markdown_().startswith("```python\ndef call(")
    assert repr(shown) == source_of(Sampling.call)


def test_source_of_something_without_source_says_what_to_pass():
    with pytest.raises(ValueError, match="pass a function, class or method"):
        source_of(42)
