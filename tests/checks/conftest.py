"""Shared by the tests of the exercise checks."""

import pytest


@pytest.fixture
def fails_with():
    """``fails_with(check, *args, hint=..., **kwargs)``: the check must fail with ``hint`` in its message."""

    def check_fails(check, *args, hint: str, **kwargs) -> str:
        with pytest.raises(AssertionError) as info:
            check(*args, **kwargs)
        assert hint.lower() in str(info.value).lower(), str(info.value)
        return str(info.value)

    return check_fails
