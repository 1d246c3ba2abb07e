"""cvae_course._keras, the one door to TensorFlow: importing the course keeps TensorFlow's start-up chatter off
stderr (nbgrader scores stderr as failure)."""

import subprocess
import sys


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
