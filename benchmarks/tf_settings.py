"""TensorFlow settings for the course's work, measured in alternation: threads, and (--xla) XLA with its disk cache.

    CVAE_COURSE_MNIST=/path/to/mnist.npz .venv/bin/python benchmarks/tf_settings.py [--rounds 3] [--xla]

Each setting can only be chosen before TensorFlow's runtime starts, so each measurement is a fresh child process
(which sets the threads itself, over whatever the course would choose). Each child:

* trains the course CVAE as lesson 03 does (dense, 2-D, one-cycle, batches of ``recipes.BATCH_SIZE``) for one
  epoch over the training set, and reports the seconds of that call's first execution (tracing, and with XLA
  compiling) and the images per second of the rest of the epoch;
* (unless --training-only) trains lesson 06's quadrant CVAE one epoch on the mixed task of 8,000 training images
  (24,000 rows, batches of ``recipes.QUADRANT_BATCH_SIZE``), then times the work that trains nothing, each call once
  warmed up and then timed: lesson 06's importance-sampled scoring (``evaluate.importance_sampled_nll``, S = 100, of
  1,000 test images with 1 visible quadrant), the judge's labels for the 10,000 test images, the course CVAE's codes
  and its -ELBO of the 10,000 test images. Inference runs one large op at a time, where intra-op threads may matter
  more than in training.

The settings:

* intra-op and inter-op threads (TensorFlow runs each op on a pool of intra-op threads and independent ops side by
  side on inter-op threads; both default to the number of cores);
* with --xla, XLA (``jit_compile=True``) with an empty persistent compilation cache, then with the cache that run
  filled (``--tf_xla_persistent_cache_directory``): what a learner's first and later lessons would pay (training
  only).

The settings run in alternation, round after round, in a rotated order, so that load from other processes hits all
of them alike; the load average is printed with every figure. Only the cores this process may use can be measured
(``taskset -c 0`` gives one core). The course's choice (``settings.tf_threads``) rests on this benchmark's figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import json, os, sys, time
intra, inter, jit = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "xla"
from cvae_course._keras import keras, tf
tf.config.threading.set_intra_op_parallelism_threads(intra)  # over whatever the course chose: the runtime
tf.config.threading.set_inter_op_parallelism_threads(inter)  # has not started yet
import numpy as np
from cvae_course import data, evaluate, models, quadrants, recipes, settings, training
mnist = data.load_mnist(fast=False)
x, y = mnist.x_train, mnist.y_train_one_hot
settings.seed_everything(42)
model = models.build_cvae(2, seed=42)
steps = -(-len(x) // recipes.BATCH_SIZE)
model.compile(optimizer=keras.optimizers.Adam(training.OneCycle(recipes.LEARNING_RATE, steps)),
              steps_per_execution=training.STEPS_PER_EXECUTION, jit_compile=jit)

class Clock(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.first = None
    def on_train_batch_end(self, batch, logs=None):
        if self.first is None:  # the first execution: training.STEPS_PER_EXECUTION batches, traced and compiled
            self.first = time.perf_counter()
            self.first_images = (batch + 1) * recipes.BATCH_SIZE
    def on_train_end(self, logs=None):
        self.end = time.perf_counter()

clock = Clock()
training.train(model, (x, y), epochs=1, batch_size=recipes.BATCH_SIZE, progress=False, callbacks=[clock])
row = {"first": clock.first - clock.start, "rate": (len(x) - clock.first_images) / (clock.end - clock.first)}
if sys.argv[4] == "all":
    def timed(fn):
        fn()  # traced and warmed up once, then timed
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    settings.seed_everything(42)
    quad = quadrants.build_quadrant_cvae(recipes.QUADRANT_LATENT_DIM, recipes.QUADRANT_HIDDEN, seed=42)
    qx, qy, _ = quadrants.make_mixed_task(mnist.x_train[:8000])
    quad.compile(optimizer=keras.optimizers.Adam(1e-3), steps_per_execution=training.STEPS_PER_EXECUTION)
    start = time.perf_counter()
    training.train(quad, (qx, qy), epochs=1, batch_size=recipes.QUADRANT_BATCH_SIZE, progress=False)
    row["quadrant epoch"] = time.perf_counter() - start
    tx, ty = quadrants.make_task(mnist.x_test[:1000], 1)
    row["IS scoring"] = timed(lambda: evaluate.importance_sampled_nll(quad, ty, tx))
    judge = recipes.build_judge()
    row["judge 10k"] = timed(lambda: evaluate.classify(judge, mnist.x_test))
    row["encode 10k"] = timed(lambda: model.encode(mnist.x_test, mnist.y_test))
    row["-ELBO 10k"] = timed(lambda: evaluate.mean_negative_elbo(model, mnist.x_test, mnist.y_test))
row["load"] = os.getloadavg()[0]
print(json.dumps(row))
"""


PARTS = ("quadrant epoch", "IS scoring", "judge 10k", "encode 10k", "-ELBO 10k")  # seconds, the child's keys


def _thread_pair(text: str) -> tuple[int, int]:
    """'INTRA,INTER' -> (intra, inter): two whole numbers >= 0 (0 = TensorFlow's default)."""
    parts = text.replace(" ", "").split(",")
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"{text!r}: give INTRA,INTER, two whole numbers such as 2,1 (0 = default)")
    return int(parts[0]), int(parts[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds over all settings (default 3)")
    parser.add_argument(
        "--threads",
        nargs="+",
        type=_thread_pair,
        default=[(0, 0), (2, 1), (1, 2), (1, 1)],
        help="INTRA,INTER settings to compare (0,0: TensorFlow's defaults, always run; default: 0,0 2,1 1,2 1,1)",
    )
    parser.add_argument("--xla", action="store_true", help="also XLA, with an empty and then a filled disk cache")
    parser.add_argument(
        "--training-only",
        action="store_true",
        help="only the course CVAE's epoch, not the lesson-06 and evaluation parts",
    )
    args = parser.parse_args(argv)
    cores = len(os.sched_getaffinity(0))
    xla_cache = tempfile.mkdtemp(prefix="xla-cache-")
    pairs = args.threads
    settings = [("default threads", 0, 0, "plain")] + [
        (f"intra {intra}, inter {inter}", intra, inter, "plain") for intra, inter in pairs if (intra, inter) != (0, 0)
    ]
    if args.xla:
        settings += [("XLA, empty disk cache", 0, 0, "xla-cold"), ("XLA, filled disk cache", 0, 0, "xla-warm")]
    parts = "training" if args.training_only else "all"
    print(f"TensorFlow settings on {cores} cores; load average (1 min) at start {os.getloadavg()[0]:.1f}")
    got: dict[str, list[dict]] = {name: [] for name, *_ in settings}
    try:
        for r in range(args.rounds):
            order = settings[r % len(settings) :] + settings[: r % len(settings)]
            # the filled cache must have been filled: the cold run always comes first within a round
            order = [s for s in order if s[3] != "xla-warm"] + [s for s in order if s[3] == "xla-warm"]
            for name, intra, inter, kind in order:
                env = dict(os.environ)
                if kind == "xla-cold":
                    shutil.rmtree(xla_cache, ignore_errors=True)
                    os.makedirs(xla_cache)
                if kind.startswith("xla"):
                    env["TF_XLA_FLAGS"] = f"--tf_xla_persistent_cache_directory={xla_cache}"
                jit = "xla" if kind.startswith("xla") else "plain"
                proc = subprocess.run(
                    [sys.executable, "-c", CHILD, str(intra), str(inter), jit, parts if jit == "plain" else "training"],
                    capture_output=True,
                    text=True,
                    env=env,
                )
                if proc.returncode != 0:
                    raise SystemExit(f"the child for {name!r} failed:\n{proc.stderr}")
                row = json.loads(proc.stdout.strip().splitlines()[-1])
                got[name].append(row)
                extra = "".join(f", {part} {row[part]:.2f} s" for part in PARTS if part in row)
                print(
                    f"  round {r + 1}: {name:<24} first execution {row['first']:5.1f} s, then "
                    f"{row['rate']:6,.0f} images/s{extra} (load {row['load']:.1f})",
                    flush=True,
                )
    finally:
        shutil.rmtree(xla_cache, ignore_errors=True)
    base = {key: statistics.median(r[key] for r in got["default threads"]) for key in got["default threads"][0]}
    print("median over the rounds (time ratios: below 1 is faster than TensorFlow's default threads):")
    for name, rows in got.items():
        rate = statistics.median(r["rate"] for r in rows)
        first = statistics.median(r["first"] for r in rows)
        line = (
            f"  {name:<24} first execution {first:5.1f} s   {rate:6,.0f} images/s ({rate / base['rate']:.2f}x default)"
        )
        for part in PARTS:
            if part in rows[0]:
                seconds = statistics.median(r[part] for r in rows)
                line += f"; {part} {seconds:.2f} s ({seconds / base[part]:.2f})"
        print(line)
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
