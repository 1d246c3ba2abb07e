"""Fixtures several test files share, loaded once per session: MNIST in the current mode, the judge, and 20 test
digits (two of each label).

A test file that needs other data defines its own fixture of the same name (e.g. tests/test_quality.py).
"""

import numpy as np
import pytest

from cvae_course import data, recipes


@pytest.fixture(scope="session")
def mnist():
    """MNIST in the current mode (the test suite runs in fast mode)."""
    return data.load_mnist()


@pytest.fixture(scope="session")
def judge():
    """The course's judge classifier (its weights ship with the package)."""
    return recipes.load_judge()


@pytest.fixture(scope="session")
def few(mnist):
    """20 test digits, two of each label: (images, labels)."""
    idx = np.concatenate([np.flatnonzero(mnist.y_test == k)[:2] for k in range(10)])
    return mnist.x_test[idx], mnist.y_test[idx]
