"""TensorFlow settings for the course's training, measured in alternation: threads, and XLA with its disk cache.

    CVAE_COURSE_MNIST=/path/to/mnist.npz .venv/bin/python benchmarks/tf_settings.py [--rounds 3]

Each setting can only be chosen before TensorFlow starts, so each measurement is a fresh child process. It trains
the course CVAE (``training.train``: dense, 2-D, batches of 128, one-cycle) in one call of one epoch over the
training set and reports the seconds of that call's first execution (tracing, and with XLA compiling) and the images
per second of the rest of the epoch. The settings:

* intra-op and inter-op threads (TensorFlow runs each op on a pool of intra-op threads and independent ops side by
  side on inter-op threads; both default to the number of cores);
* XLA (``jit_compile=True``) with an empty persistent compilation cache, then with the cache that run filled
  (``--tf_xla_persistent_cache_directory``): what a learner's first and later lessons would pay.

The settings run in alternation, round after round, in a rotated order, so that load from other processes hits all
of them alike; the load average is printed with every figure. Only the cores this machine has can be measured.
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
tf.config.threading.set_intra_op_parallelism_threads(intra)
tf.config.threading.set_inter_op_parallelism_threads(inter)
from cvae_course import data, models, settings, training
mnist = data.load_mnist(fast=False)
x, y = mnist.x_train, mnist.y_train_one_hot
settings.seed_everything(42)
model = models.build_cvae(2, seed=42)
steps = -(-len(x) // training.BATCH_SIZE)
model.compile(optimizer=keras.optimizers.Adam(training.OneCycle(training.LEARNING_RATE, steps)),
              steps_per_execution=training.STEPS_PER_EXECUTION, jit_compile=jit)

class Clock(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.first = None
    def on_train_batch_end(self, batch, logs=None):
        if self.first is None:  # the first execution: training.STEPS_PER_EXECUTION batches, traced and compiled
            self.first = time.perf_counter()
            self.first_images = (batch + 1) * training.BATCH_SIZE
    def on_train_end(self, logs=None):
        self.end = time.perf_counter()

clock = Clock()
training.train(model, (x, y), epochs=1, progress=False, callbacks=[clock])
first = clock.first - clock.start
rate = (len(x) - clock.first_images) / (clock.end - clock.first)
print(json.dumps({"first": first, "rate": rate, "load": os.getloadavg()[0]}))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds over all settings (default 3)")
    args = parser.parse_args(argv)
    cores = len(os.sched_getaffinity(0))
    xla_cache = tempfile.mkdtemp(prefix="xla-cache-")
    settings = [
        ("default threads", 0, 0, "plain"),
        ("intra 2, inter 1", 2, 1, "plain"),
        ("intra 1, inter 2", 1, 2, "plain"),
        ("intra 1, inter 1", 1, 1, "plain"),
        ("XLA, empty disk cache", 0, 0, "xla-cold"),
        ("XLA, filled disk cache", 0, 0, "xla-warm"),
    ]
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
                proc = subprocess.run(
                    [sys.executable, "-c", CHILD, str(intra), str(inter), "xla" if kind.startswith("xla") else "plain"],
                    capture_output=True,
                    text=True,
                    check=True,
                    env=env,
                )
                row = json.loads(proc.stdout.strip().splitlines()[-1])
                got[name].append(row)
                print(
                    f"  round {r + 1}: {name:<24} first execution {row['first']:5.1f} s, then "
                    f"{row['rate']:6,.0f} images/s (load {row['load']:.1f})",
                    flush=True,
                )
    finally:
        shutil.rmtree(xla_cache, ignore_errors=True)
    base = statistics.median(r["rate"] for r in got["default threads"])
    print("median over the rounds:")
    for name, rows in got.items():
        rate = statistics.median(r["rate"] for r in rows)
        first = statistics.median(r["first"] for r in rows)
        print(f"  {name:<24} first execution {first:5.1f} s   {rate:6,.0f} images/s ({rate / base:.2f}x default)")
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
