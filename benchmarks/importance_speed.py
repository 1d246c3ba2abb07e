"""Speed of lesson 06's importance-sampled scoring: the compiled evaluation against the one it replaced.

    CVAE_COURSE_MNIST=/path/to/mnist.npz .venv/bin/python benchmarks/importance_speed.py [--images 2000]

Lesson 06 scores its CVAEs by importance sampling, S = 100 codes per test image, on the whole test set (10,000
images in full mode) under 1, 2 and 3 visible quadrants: until this benchmark's change the lesson's largest cell
that trains nothing. Two implementations of the same estimate (the same codes, drawn from the same seeded stream):

* before: the evaluation as it was (``evaluate.importance_log_weights`` on main up to 058a294, reproduced below):
  per batch of images, the codes through the ``Sampling`` layer, x repeated for every code and decoded by a Keras
  call, the log-likelihood brought to NumPy, the Gaussian densities in float64 NumPy;
* after: ``evaluate.importance_sampled_nll`` as it is now: one compiled call per batch (float32), the first
  layer's product with x once per image, the last layer on the hidden pixels only.

They run in alternation (before, after, after, before, ...) on the lesson's full-mode CVAE (the cached model,
trained by ``recipes.train_quadrant_cvae`` if there is none), so a busy machine slows both alike. Each run is
timed in wall-clock seconds and in CPU seconds of this process (``time.process_time``, all threads). The first
call of the compiled one (which traces it) is timed apart. Printed: per run the times, the medians, the ratios
after / before, the largest difference between the two estimates per image and of their means, and the load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from cvae_course import data, evaluate, quadrants, recipes, settings
from cvae_course._keras import ops
from cvae_course.layers import Sampling


def before(model: quadrants.QuadrantCVAE, y, x, *, n_samples: int = 100, seed: int = 0) -> np.ndarray:
    """-log p(y | x) per image as ``importance_sampled_nll(model, y, x)`` computed it before (main, 058a294)."""
    q_means, q_log_vars, p_means, p_log_vars = model.distributions(x, y)
    sampling = Sampling(seed=seed)
    n_images = len(q_means)
    per_call = max(1, evaluate.IMPORTANCE_ROWS // n_samples)
    out = np.empty((n_samples, n_images), dtype=np.float64)
    for start in range(0, n_images, per_call):
        batch = np.arange(start, min(start + per_call, n_images))
        rows = np.tile(batch, n_samples)  # row s * n + i: image batch[i]
        mean, log_var = q_means[rows], q_log_vars[rows]
        z = ops.convert_to_numpy(sampling([ops.convert_to_tensor(mean), ops.convert_to_tensor(log_var)]))
        log_w = (
            model.log_likelihood(x[rows], y[rows], z)
            + evaluate.gaussian_log_density(z, p_means[rows], p_log_vars[rows])
            - evaluate.gaussian_log_density(z, mean, log_var)
        )
        out[:, batch] = log_w.reshape(n_samples, len(batch))
    return -evaluate.log_mean_exp(out, axis=0)


def after(model, y, x, *, n_samples: int = 100, seed: int = 0) -> np.ndarray:
    return evaluate.importance_sampled_nll(model, y, x, n_samples=n_samples, seed=seed)


def timed(fn, model, tasks, n_samples):
    """(wall s, CPU s, estimates per setting) of fn over the three settings."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = {k: fn(model, y, x, n_samples=n_samples) for k, (x, y) in tasks.items()}
    return time.perf_counter() - wall, time.process_time() - cpu, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=2000, help="test images per setting (the lesson: 10,000)")
    parser.add_argument("--samples", type=int, default=100, help="S, codes per image (the lesson: 100)")
    parser.add_argument("--rounds", type=int, default=2, help="pairs of runs: before, after, after, before, ...")
    args = parser.parse_args()

    load_start = os.getloadavg()
    mnist = data.load_mnist()
    model = recipes.train_quadrant_cvae(mnist)
    tasks = {k: quadrants.make_task(mnist.x_test[: args.images], k) for k in quadrants.SETTINGS}
    print(
        f"{settings.mode_name()} mode, the lesson's CVAE; {args.images:,} test images x 3 settings, "
        f"S = {args.samples}; load average {load_start[0]:.1f} {load_start[1]:.1f} {load_start[2]:.1f}"
    )
    wall, cpu, _ = timed(after, model, {1: quadrants.make_task(mnist.x_test[:50], 1)}, args.samples)
    print(f"first compiled call (traces it), 50 images: {wall:.2f} s wall, {cpu:.2f} CPU s")

    times = {"before": [], "after": []}
    estimates = {}
    order = [name for i in range(args.rounds) for name in (("before", "after") if i % 2 == 0 else ("after", "before"))]
    for name in order:
        wall, cpu, out = timed(before if name == "before" else after, model, tasks, args.samples)
        times[name].append((wall, cpu))
        estimates[name] = out
        print(f"  {name:<7} {wall:7.2f} s wall {cpu:7.2f} CPU s   load {os.getloadavg()[0]:.1f}")

    med = {name: [statistics.median(t[i] for t in runs) for i in (0, 1)] for name, runs in times.items()}
    print(f"median wall: before {med['before'][0]:.2f} s, after {med['after'][0]:.2f} s")
    print(f"median CPU:  before {med['before'][1]:.2f} s, after {med['after'][1]:.2f} s")
    print(
        f"ratio after / before: wall {med['after'][0] / med['before'][0]:.3f}, "
        f"CPU {med['after'][1] / med['before'][1]:.3f}"
    )
    for k in quadrants.SETTINGS:
        a, b = estimates["after"][k], estimates["before"][k]
        print(
            f"{k} visible: mean -log p(y | x) before {b.mean():.3f}, after {a.mean():.3f} nats; "
            f"largest difference per image {np.abs(a - b).max():.5f}"
        )
    end = os.getloadavg()
    print(f"load average at the end {end[0]:.1f} {end[1]:.1f} {end[2]:.1f}")


if __name__ == "__main__":
    main()
