"""Speed of lesson 06's importance-sampled scoring: the evaluation as it is against the ones it replaced.

    CVAE_COURSE_MNIST=/path/to/mnist.npz .venv/bin/python benchmarks/importance_speed.py [--images 2000]
        [--against unfused|058a294] [--rounds 2] [--profile]

Lesson 06 scores its CVAEs by importance sampling, S = 100 codes per test image, on the whole test set (10,000
images in full mode) under 1, 2 and 3 visible quadrants: the lesson's largest cell that trains nothing. Three
implementations of the same estimate (the same codes, drawn from the same seeded stream):

* ``058a294``: the evaluation before it was compiled (``evaluate.importance_log_weights`` on main up to 058a294,
  reproduced below): per batch of images, the codes through the ``Sampling`` layer, x repeated for every code and
  decoded by a Keras call, the log-likelihood brought to NumPy, the Gaussian densities in float64 NumPy;
* ``unfused``: the compiled evaluation as it was until issue 15's second step: one compiled call (float32) per
  batch of IMPORTANCE_ROWS codes, the first layer's product with x once per image, the last layer on the hidden
  pixels only, and the cross-entropy as nine TensorFlow ops, each a pass over the logits;
* now: ``evaluate.importance_sampled_nll`` as it is: the same, with the cross-entropy fused into one pass by XLA
  (``evaluate.masked_log_likelihood``).

The chosen one (``--against``) and now run in alternation (A, now, now, A, ...) on the lesson's full-mode CVAE
(the cached model, trained by ``recipes.train_quadrant_cvae`` if there is none), so a busy machine slows both
alike. Each run is timed in wall-clock seconds and in CPU seconds of this process (``time.process_time``, all
threads). The first call of the compiled one (which traces it) is timed apart. Printed: per run the times, the
medians, the ratios now / A, the largest difference between the two estimates per image and of their means, and
the load. ``--profile`` first times the parts of one call for one setting (decoding, cross-entropy, drawing).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from cvae_course import data, evaluate, quadrants, recipes, settings
from cvae_course._keras import ops, tf
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


def unfused(model, y, x, *, n_samples: int = 100, seed: int = 0) -> np.ndarray:
    """The compiled evaluation with the cross-entropy as separate TensorFlow ops (until issue 15's second step)."""
    fused = evaluate.masked_log_likelihood
    evaluate.masked_log_likelihood = tf.function(evaluate._masked_log_likelihood, autograph=False)
    evaluate._IMPORTANCE_COMPILED.pop(model, None)  # traced anew, with the unfused cross-entropy
    try:
        return evaluate.importance_sampled_nll(model, y, x, n_samples=n_samples, seed=seed)
    finally:
        evaluate.masked_log_likelihood = fused
        evaluate._IMPORTANCE_COMPILED.pop(model, None)


def after(model, y, x, *, n_samples: int = 100, seed: int = 0) -> np.ndarray:
    return evaluate.importance_sampled_nll(model, y, x, n_samples=n_samples, seed=seed)


CONTENDERS = {"058a294": before, "unfused": unfused}


def profile(model, y, x, n_samples: int) -> None:
    """CPU seconds of the parts of the compiled call for one batch of drawn codes (IMPORTANCE_ROWS), 10 times each."""
    from cvae_course._keras import keras
    from cvae_course.losses import pixel_cross_entropy

    per_draw = evaluate.IMPORTANCE_ROWS // n_samples
    x, y = x[:per_draw], y[:per_draw]
    parts = model.importance_parts(y, x)
    stack = quadrants._dense_stack(model.generation)
    eps = keras.random.normal((n_samples, per_draw, model.latent_dim), seed=0)
    z = tf.constant(parts.q_mean[None] + np.exp(0.5 * parts.q_log_var)[None] * eps.numpy())
    xt = tf.constant(x)
    first, *middle, last = stack
    hidden = np.nonzero((x.reshape(len(x), -1) < 0).any(axis=0))[0]

    def decode(z):
        h = first.activation(
            ops.matmul(ops.reshape(z, (-1, model.latent_dim)), first.kernel[784:])
            + ops.tile(ops.matmul(ops.reshape(xt, (per_draw, -1)), first.kernel[:784]) + first.bias, (n_samples, 1))
        )
        for layer in middle:
            h = layer.activation(ops.matmul(h, layer.kernel) + layer.bias)
        return ops.matmul(h, ops.take(last.kernel, hidden, axis=1)) + ops.take(last.bias, hidden)

    logits = tf.function(decode)(z)
    targets = tf.constant(y.reshape(per_draw, -1)[:, hidden])
    steps = {
        "draw the codes' noise (eager)": lambda: keras.random.normal((n_samples * per_draw, model.latent_dim), seed=0),
        "decode (three dense layers, hidden pixels only)": tf.function(decode).get_concrete_function(z),
        "cross-entropy over the logits, TensorFlow ops": tf.function(
            lambda lg: ops.sum(pixel_cross_entropy(targets[None], ops.reshape(lg, (n_samples, per_draw, -1))), -1)
        ).get_concrete_function(logits),
        "cross-entropy over the logits, fused by XLA": lambda lg: evaluate.masked_log_likelihood(
            targets[None], ops.reshape(lg, (n_samples, per_draw, -1)), ops.ones_like(targets[None])
        ),
        "the whole compiled call": lambda: evaluate._sampled_terms(model, parts, n_samples, 0),
    }
    args = {1: (z,), 2: (logits,), 3: (logits,)}
    print(f"profile: {per_draw} images x S = {n_samples} codes, {len(hidden)} hidden pixels (10 calls each)")
    for i, (name, fn) in enumerate(steps.items()):
        fn(*args.get(i, ()))
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(10):
            out = fn(*args.get(i, ()))
            _ = ops.convert_to_numpy(out) if not isinstance(out, np.ndarray) else out
        print(
            f"  {name:<50} {(time.process_time() - cpu) * 100:7.1f} ms CPU, "
            f"{(time.perf_counter() - wall) * 100:7.1f} ms wall per call"
        )


def timed(fn, model, tasks, n_samples):
    """(wall s, CPU s, estimates per setting) of fn over the three settings."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = {k: fn(model, y, x, n_samples=n_samples) for k, (x, y) in tasks.items()}
    return time.perf_counter() - wall, time.process_time() - cpu, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=2000, help="test images per setting (the lesson: 10,000)")
    parser.add_argument("--samples", type=int, default=100, help="S, codes per image (the lesson: 100)")
    parser.add_argument("--rounds", type=int, default=2, help="pairs of runs: A, now, now, A, ...")
    parser.add_argument("--against", choices=sorted(CONTENDERS), default="unfused", help="what now is timed against")
    parser.add_argument("--profile", action="store_true", help="first time the parts of one call (1 visible quadrant)")
    args = parser.parse_args()

    load_start = os.getloadavg()
    mnist = data.load_mnist()
    model = recipes.train_quadrant_cvae(mnist)
    tasks = {k: quadrants.make_task(mnist.x_test[: args.images], k) for k in quadrants.SETTINGS}
    print(
        f"{settings.mode_name()} mode, the lesson's CVAE; {args.images:,} test images x 3 settings, "
        f"S = {args.samples}; IMPORTANCE_ROWS {evaluate.IMPORTANCE_ROWS:,}; "
        f"load average {load_start[0]:.1f} {load_start[1]:.1f} {load_start[2]:.1f}"
    )
    if args.profile:
        profile(model, tasks[1][1], tasks[1][0], args.samples)
    wall, cpu, _ = timed(after, model, {1: quadrants.make_task(mnist.x_test[:50], 1)}, args.samples)
    print(f"first compiled call (traces it), 50 images: {wall:.2f} s wall, {cpu:.2f} CPU s")

    a = args.against
    contenders = {a: CONTENDERS[a], "now": after}
    times = {a: [], "now": []}
    estimates = {}
    order = [name for i in range(args.rounds) for name in ((a, "now") if i % 2 == 0 else ("now", a))]
    for name in order:
        wall, cpu, out = timed(contenders[name], model, tasks, args.samples)
        times[name].append((wall, cpu))
        estimates[name] = out
        print(f"  {name:<11} {wall:7.2f} s wall {cpu:7.2f} CPU s   load {os.getloadavg()[0]:.1f}", flush=True)

    med = {name: [statistics.median(t[i] for t in runs) for i in (0, 1)] for name, runs in times.items()}
    print(f"median wall: {a} {med[a][0]:.2f} s, now {med['now'][0]:.2f} s")
    print(f"median CPU:  {a} {med[a][1]:.2f} s, now {med['now'][1]:.2f} s")
    print(f"ratio now / {a}: wall {med['now'][0] / med[a][0]:.3f}, CPU {med['now'][1] / med[a][1]:.3f}")
    for k in quadrants.SETTINGS:
        new, old = estimates["now"][k], estimates[a][k]
        print(
            f"{k} visible: mean -log p(y | x) {a} {old.mean():.5f}, now {new.mean():.5f} nats; "
            f"largest difference per image {np.abs(new - old).max():.2e}"
        )
    end = os.getloadavg()
    print(f"load average at the end {end[0]:.1f} {end[1]:.1f} {end[2]:.1f}")


if __name__ == "__main__":
    main()
