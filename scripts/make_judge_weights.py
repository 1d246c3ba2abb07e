"""Train the judge once and write its weights into the package: ``cvae_course/weights/judge.npz``.

    CVAE_COURSE_MNIST=/path/to/mnist.npz .venv/bin/python scripts/make_judge_weights.py

The judge is the small convolutional digit classifier that scores generated digits in lessons 01, 03 and 05 (and
in the quality test). Learners do not train it: :func:`cvae_course.recipes.load_judge` reads the weights this script
writes, which saves every learner a few minutes of CPU. It trains :func:`cvae_course.recipes.train_judge` (seed 42,
``recipes.JUDGE_EPOCHS`` epochs, Adam 1e-3, batches of 128) on every training image of the MNIST copy it is given
(``CVAE_COURSE_MNIST``, or Keras's download without it), never on the test images; then it scores the real test
set and refuses to write a judge below ``recipes.MIN_JUDGE_ACCURACY``. The file holds the weights as float32 arrays
(``weight_00``, ``weight_01``, ... in ``judge.get_weights()`` order) and an ``info`` string (JSON: data, epochs,
test accuracy), read without pickle. tests/test_quality.py checks the shipped file on the real test set.

Run it again only when the judge's recipe or architecture changes; commit the new file with the accuracy it prints.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from cvae_course import data, evaluate, recipes
from cvae_course._keras import keras, tf


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=recipes.JUDGE_WEIGHTS,
        help=f"where to write the weights (default: {recipes.JUDGE_WEIGHTS})",
    )
    parser.add_argument("--epochs", type=int, default=recipes.JUDGE_EPOCHS, help="training epochs")
    args = parser.parse_args(argv)

    mnist = data.load_mnist(fast=False)
    print(
        f"training the judge on {len(mnist.x_train):,} training images from {mnist.source} "
        f"for {args.epochs} epochs ...",
        flush=True,
    )
    start = time.perf_counter()
    judge = recipes.train_judge(mnist.x_train, mnist.y_train, epochs=args.epochs)
    seconds = time.perf_counter() - start
    score = evaluate.accuracy(judge, mnist.x_test, mnist.y_test)
    print(f"trained in {seconds:.0f} s; test accuracy on the {len(mnist.x_test):,} real test digits: {score:.4f}")
    if score < recipes.MIN_JUDGE_ACCURACY:
        print(f"not written: below the {recipes.MIN_JUDGE_ACCURACY} the course promises", file=sys.stderr)
        return 1
    info = {
        "recipe": "cvae_course.recipes.train_judge",
        "epochs": args.epochs,
        "seed": 42,
        "train_images": len(mnist.x_train),
        "data": Path(mnist.source).name,
        "test_images": len(mnist.x_test),
        "test_accuracy": round(score, 4),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
    }
    weights = {f"weight_{i:02d}": np.asarray(w, dtype=np.float32) for i, w in enumerate(judge.get_weights())}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "wb") as f:  # a file object: np.savez would otherwise append .npz to another suffix
        np.savez_compressed(f, info=np.array(json.dumps(info, sort_keys=True)), **weights)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB): {json.dumps(info, sort_keys=True)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
