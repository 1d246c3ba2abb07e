"""Specification of the environment check shown in lesson 00 (cvae_course.environment)."""

from importlib import metadata

import pytest

from cvae_course import environment, settings


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A known environment: fast mode on, MNIST from an existing file, cache in a temp folder."""
    mnist = tmp_path / "mnist.npz"
    mnist.write_bytes(b"")
    monkeypatch.setenv(settings.FAST_ENV, "1")
    monkeypatch.setenv(settings.DATA_ENV, str(mnist))
    monkeypatch.setenv(settings.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.delenv(settings.THREADS_ENV, raising=False)
    return tmp_path


@pytest.mark.parametrize("package", environment.PACKAGES)
def test_report_shows_the_installed_version_of_each_package(env, package):
    assert environment.report().value(package) == metadata.version(package)


def test_a_healthy_environment_has_no_problems(env):
    rep = environment.report()
    assert rep.ok
    assert str(rep).endswith("Everything looks ready.")


def test_fast_mode_on_is_reported(env):
    assert environment.report().value("fast mode").startswith("on")


def test_fast_mode_off_is_reported_with_how_to_switch_it_on(env, monkeypatch):
    monkeypatch.setenv(settings.FAST_ENV, "0")
    assert environment.report().value("fast mode") == (
        f"off: the full course (set {settings.FAST_ENV}=1 for a quick run)"
    )


def test_a_fast_mode_value_that_is_not_understood_is_a_problem(env, monkeypatch):
    monkeypatch.setenv(settings.FAST_ENV, "maybe")
    rep = environment.report()
    assert rep.value("fast mode") == "not understood"
    assert any(settings.FAST_ENV in p and "'maybe'" in p for p in rep.problems)


def test_mnist_source_names_the_local_file(env):
    assert environment.report().value("MNIST from") == f"{env / 'mnist.npz'} (set by {settings.DATA_ENV})"


def test_a_missing_local_mnist_file_is_a_problem(env, monkeypatch):
    monkeypatch.setenv(settings.DATA_ENV, str(env / "nowhere.npz"))
    rep = environment.report()
    assert not rep.ok
    assert any("nowhere.npz" in p and "does not exist" in p for p in rep.problems)


def test_without_a_local_file_mnist_comes_from_keras(env, monkeypatch):
    monkeypatch.delenv(settings.DATA_ENV)
    assert environment.report().value("MNIST from").startswith("keras.datasets.mnist")


def test_model_cache_is_the_configured_folder(env):
    assert environment.report().value("model cache") == str(env / "cache")


def test_a_missing_package_is_a_problem_with_the_install_command(env, monkeypatch):
    monkeypatch.setattr(environment, "PACKAGES", ("numpy", "no-such-package-xyz"))
    rep = environment.report()
    assert rep.value("no-such-package-xyz") == "not installed"
    assert "no-such-package-xyz is not installed; run `pip install -e .` in the course folder." in rep.problems


def test_a_python_older_than_required_is_a_problem(env, monkeypatch):
    monkeypatch.setattr(environment, "MIN_PYTHON", (99, 0))
    assert any("older than 99.0" in p for p in environment.report().problems)


def test_a_keras_backend_other_than_tensorflow_is_a_problem(env, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    rep = environment.report()
    assert rep.value("Keras backend") == "jax"
    assert any("KERAS_BACKEND='jax'" in p for p in rep.problems)


def test_printed_report_lists_every_row_and_every_problem(env, monkeypatch):
    monkeypatch.setenv(settings.DATA_ENV, str(env / "nowhere.npz"))
    rep = environment.report()
    text = str(rep)
    assert all(name in text and value in text for name, value in rep.rows)
    assert "Problems to fix before you go on:" in text
    assert all(p in text for p in rep.problems)


def test_asking_for_a_row_that_is_not_there_names_the_rows_that_are(env):
    with pytest.raises(ValueError, match="no row 'GPU driver'.*'Python'"):
        environment.report().value("GPU driver")


def test_tensorflow_threads_are_reported_with_where_they_come_from(env, monkeypatch):
    monkeypatch.setattr(settings, "MEASURED_THREADS", {})
    assert environment.report().value("TensorFlow threads") == "TensorFlow's defaults"
    monkeypatch.setenv(settings.THREADS_ENV, "2,1")
    assert environment.report().value("TensorFlow threads") == f"intra-op 2, inter-op 1 (set by {settings.THREADS_ENV})"


def test_a_threads_value_that_is_not_understood_is_a_problem_with_the_fix(env, monkeypatch):
    monkeypatch.setenv(settings.THREADS_ENV, "lots")
    rep = environment.report()
    assert rep.value("TensorFlow threads") == "not understood"
    assert any("CVAE_COURSE_TF_THREADS='lots'" in p and "INTRA,INTER" in p for p in rep.problems)
