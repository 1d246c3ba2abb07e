"""cvae_course._keras, the one door to TensorFlow: importing the course keeps TensorFlow's start-up chatter off
stderr (nbgrader scores stderr as failure) and gives TensorFlow the course's threads before its runtime starts."""

import os
import subprocess
import sys

from cvae_course import settings

THREADS_SEEN = (
    "from cvae_course._keras import keras, tf\n"
    "keras.ops.ones((2, 2))  # the runtime has started: the threads are fixed now\n"
    "print(tf.config.threading.get_intra_op_parallelism_threads(), "
    "tf.config.threading.get_inter_op_parallelism_threads())\n"
)


def _run(code: str, threads: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != settings.THREADS_ENV}
    if threads is not None:
        env[settings.THREADS_ENV] = threads
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, env=env)


def test_importing_cvae_course_then_tensorflow_writes_nothing_to_stderr():
    code = "import cvae_course.models, tensorflow, keras; keras.ops.ones((2, 2)); print('ok')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert result.stderr == ""


def test_a_short_training_run_writes_nothing_to_stderr():
    code = (
        "import numpy as np\n"
        "from cvae_course import models, training\n"
        "m = models.build_cvae(2, seed=0)\n"
        "x = np.random.default_rng(0).uniform(size=(64, 28, 28, 1)).astype('float32')\n"
        "y = np.eye(10, dtype='float32')[np.arange(64) % 10]\n"
        "training.train(m, (x, y), epochs=2, batch_size=32)\n"
        "m.generate([3, 4], seed=0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.count("epoch ") == 2


def test_importing_the_course_gives_tensorflow_the_threads_the_settings_choose():
    # A measured choice for this machine's core count, as a quiet measurement would enter it in settings.
    check = (
        "from cvae_course import settings\n"
        "settings.MEASURED_THREADS[settings._usable_cores()] = (1, 2)\n"
        "print(settings.tf_threads())\n"
        f"{THREADS_SEEN}"
    )
    result = _run(check, None)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines() == ["(1, 2)", "1 2"]


def test_the_threads_variable_overrides_the_course_choice():
    result = _run(THREADS_SEEN, "2,3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["2", "3"]
    result = _run(THREADS_SEEN, "default")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "0"]


def test_a_bad_threads_value_stops_the_import_with_the_fix():
    result = _run("import cvae_course.models", "many")
    assert result.returncode != 0
    assert (
        "CVAE_COURSE_TF_THREADS='many' is not understood; set it to two positive integers INTRA,INTER" in result.stderr
    )


def test_threads_that_come_too_late_are_not_applied_silently():
    # Something ran TensorFlow before the course was imported: the runtime's threads are fixed by then.
    late = "import tensorflow as tf\ntf.ones((2, 2))\n" + THREADS_SEEN
    result = _run(late, "2,3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "0"]  # TensorFlow's defaults stayed
    assert "not the course's 2,3 (CVAE_COURSE_TF_THREADS)" in result.stderr
    assert "Restart the kernel and import cvae_course before anything runs TensorFlow" in result.stderr
    assert "<string>:3: RuntimeWarning" in result.stderr  # points at the line that imported the course
    result = _run(late, "default")  # nothing asked for, nothing to warn about
    assert result.returncode == 0, result.stderr
    assert "Restart the kernel" not in result.stderr
