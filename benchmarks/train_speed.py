"""Training-speed benchmark of the course models: throughput, GFLOP/s against matmul, time to quality.

    CVAE_COURSE_MNIST=/path/to/mnist.npz .venv/bin/python benchmarks/train_speed.py

Prints, for the dense and the convolutional CVAE (2-D latent space, trained by ``training.train``,
the function the lessons call): training images per second, seconds per 60,000-image epoch
(extrapolated from that throughput), and the achieved GFLOP/s next to this machine's float32
matrix-multiply GFLOP/s. Training and matmul are measured in alternation in the same run (a matmul
probe after every few thousand training images), so a busy machine slows both alike and their ratio
stays meaningful. Then the time to quality: seconds of training of the course CVAE by its recipe as the lessons
train it (``recipes.train_cvae``: the decoder starting at the average training image, ``build_cvae``'s
``start_images``; ``training.train``'s one-cycle schedule peaking at ``recipes.LEARNING_RATE``, batches of
``recipes.BATCH_SIZE``, a cycle of full mode's ``cvae_epochs``) until it reaches the targets below, evaluated after
each epoch with the evaluation time left out, next to a plain ``tf.function`` training loop of the same
architecture: the target's reference is the course CVAE's recipe before issue 15 (Keras's default initialisation,
Adam 3e-3 constant, batches of 256); the same plain loop starting at the average image shows what the start alone
gives a constant rate, and the plain loop with the course's start and one-cycle schedule what Keras's ``fit`` adds.
The four run in alternation (course, plain, plain, plain, then the reverse, ...) so that load hits all alike. A
run that starts at the average image counts building its model (the mean over the training images included). A
first round warms the process up (TensorFlow's one-time start-up costs would otherwise fall on whichever run comes
first) and is printed but not counted.
Each run is timed twice: wall-clock seconds and the CPU seconds of this process (all its threads; what the
training itself used, which other processes on a shared machine inflate far less than the wall clock).
Last, a beta sweep of three 8-D CVAEs trained together (``training.train_together``) against the same three
trained one after the other, one epoch each, in alternation.

FLOP convention: multiply-accumulates (MACs) of the forward pass of the Dense, Conv2D and
Conv2DTranspose layers, x 2 FLOPs per MAC, x 3 for forward + backward. Biases, activations, the loss,
the sampling layer and the optimizer update are not counted.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

from cvae_course import data, evaluate, losses, models, recipes, settings, training
from cvae_course._keras import keras, layers, tf

# Targets on a quiet 2-core CPU (issue 2, item 6). They live here, never in timed tests.
DENSE_MATMUL_SHARE = 0.40  # dense CVAE training at >= 40% of the measured matmul GFLOP/s
CONV_SECONDS_PER_60K = 30.0  # convolutional CVAE: <= 30 s per 60,000-image epoch
QUALITY_SECONDS = 20.0  # time to quality <= 20 s of training
QUALITY_RATIO = 0.5  # ... and at most half the plain loop's time for the same model (issue 15)
QUALITY = {"negative_elbo": 135.0, "accuracy": 0.98, "diversity": 0.55}  # -ELBO <=, accuracy >=, diversity >=
# The course CVAE's recipe before issue 15 (a constant rate; recipes.train_cvae now trains one-cycle in batches of
# 128 in full mode): the plain loop's reference.
PLAIN_BATCH, PLAIN_LEARNING_RATE = 256, 3e-3
ONE_CYCLE_EPOCHS = settings.budget("full").cvae_epochs  # the course CVAE's cycle in full mode (what a learner trains)

FLOPS_PER_MAC = 2
TRAIN_PASSES = 3  # forward + backward
EPOCH_IMAGES = 60_000


# ----------------------------------------------------------------------------------------------- FLOPs
def layer_macs(layer: keras.layers.Layer) -> int:
    """Forward multiply-accumulates per image of one Dense, Conv2D or Conv2DTranspose layer (else 0)."""
    if isinstance(layer, layers.Dense):
        fan_in, units = layer.kernel.shape
        return int(fan_in * units)
    if isinstance(layer, layers.Conv2DTranspose):  # every input pixel scatters a kh x kw x out_c patch
        kh, kw, out_c, in_c = layer.kernel.shape
        h, w = layer.input.shape[1:3]
        return int(h * w * in_c * kh * kw * out_c)
    if isinstance(layer, layers.Conv2D):  # every output pixel gathers a kh x kw x in_c patch
        kh, kw, in_c, out_c = layer.kernel.shape
        h, w = layer.output.shape[1:3]
        return int(h * w * out_c * kh * kw * in_c)
    return 0


def model_macs(model: models.VAE) -> int:
    """Forward multiply-accumulates per image of the encoder and the decoder."""
    return sum(layer_macs(layer) for part in (model.encoder, model.decoder) for layer in part.layers)


def training_flops_per_image(model: models.VAE) -> int:
    return model_macs(model) * FLOPS_PER_MAC * TRAIN_PASSES


# ---------------------------------------------------------------------------------------------- matmul
class MatmulProbe:
    """Times one float32 n x n matrix product; :meth:`gflops` returns the GFLOP/s of one run."""

    def __init__(self, n: int = 2048, seed: int = 0):
        self.n = n
        rng = tf.random.Generator.from_seed(seed)
        self.a = rng.normal((n, n), dtype=tf.float32)
        self.b = rng.normal((n, n), dtype=tf.float32)
        self._product = tf.function(tf.linalg.matmul)
        self._product(self.a, self.b)  # trace and warm up

    def gflops(self) -> float:
        start = time.perf_counter()
        self._product(self.a, self.b)  # on the CPU the call returns once the product is computed
        return 2 * self.n**3 / (time.perf_counter() - start) / 1e9


class Interleaved(keras.callbacks.Callback):
    """Times training in windows of about ``window_images`` images and runs the matmul probe
    ``probes`` times between windows, so that training and matmul see the same machine load."""

    def __init__(self, probe: MatmulProbe, batch_size: int, n_images: int, window_images: int = 4096, probes: int = 2):
        super().__init__()
        self.probe, self.batch_size, self.n_images = probe, batch_size, n_images
        self.window_images, self.probes = window_images, probes
        self.train_rates: list[float] = []  # images per second, one per window
        self.matmul_rates: list[float] = []  # GFLOP/s, one per probe

    def _start_window(self, done: int):
        self._done_at_start = done
        self._t0 = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._start_window(0)

    def on_train_batch_end(self, batch, logs=None):
        done = min((batch + 1) * self.batch_size, self.n_images)
        images = done - self._done_at_start
        if images < self.window_images and done < self.n_images:
            return
        self.train_rates.append(images / (time.perf_counter() - self._t0))
        self.matmul_rates.extend(self.probe.gflops() for _ in range(self.probes))
        self._start_window(done)


def measure_training(kind: str, mnist: data.MNIST, probe: MatmulProbe, *, epochs: int, batch_size: int) -> dict:
    """Train a fresh 2-D CVAE of ``kind`` with ``training.train`` and time it against matmul."""
    settings.seed_everything(settings.DEFAULT_SEED)
    model = models.build_cvae(2, kind, seed=settings.DEFAULT_SEED)
    x, y = mnist.x_train, mnist.y_train_one_hot
    # Compiled here, as training.train compiles (Adam on the one-cycle schedule, steps per execution), so that the
    # timed call below reuses the traced step of the warm-up instead of compiling and tracing again.
    rate = training.OneCycle(training.LEARNING_RATE, (epochs + 1) * (len(x) // batch_size + 1))
    model.compile(optimizer=keras.optimizers.Adam(rate), steps_per_execution=training.STEPS_PER_EXECUTION)
    warm = 4 * batch_size * training.STEPS_PER_EXECUTION + batch_size // 2  # full and partial batches traced
    training.train(model, (x[:warm], y[:warm]), epochs=1, batch_size=batch_size, progress=False)
    clock = Interleaved(probe, batch_size, len(x))
    training.train(model, (x, y), epochs=epochs, batch_size=batch_size, progress=False, callbacks=[clock])
    flops = training_flops_per_image(model)
    rate_median, rate_best = statistics.median(clock.train_rates), max(clock.train_rates)
    mm_median, mm_best = statistics.median(clock.matmul_rates), max(clock.matmul_rates)
    return {
        "macs": model_macs(model),
        "flops": flops,
        "windows": len(clock.train_rates),
        "probes": len(clock.matmul_rates),
        "rate_median": rate_median,
        "rate_best": rate_best,
        "gflops_median": rate_median * flops / 1e9,
        "gflops_best": rate_best * flops / 1e9,
        "matmul_median": mm_median,
        "matmul_best": mm_best,
    }


# ------------------------------------------------------------------------------------- time to quality
def score(model: models.CVAE, mnist: data.MNIST, judge: keras.Model) -> dict:
    """The three quality figures of a CVAE on the test set."""
    return {
        "negative_elbo": evaluate.mean_negative_elbo(model, mnist.x_test, mnist.y_test),
        "accuracy": evaluate.conditional_accuracy(model, judge)[0],
        "diversity": evaluate.diversity(model, mnist.x_test, mnist.y_test),
    }


def good_enough(row: dict) -> bool:
    return (
        row["negative_elbo"] <= QUALITY["negative_elbo"]
        and row["accuracy"] >= QUALITY["accuracy"]
        and row["diversity"] >= QUALITY["diversity"]
    )


class Run:
    """One training run's clock: seconds of training per epoch (evaluation excluded) and the quality after each."""

    def __init__(self, name: str, mnist: data.MNIST, judge: keras.Model, budget: float):
        self.name, self.mnist, self.judge, self.budget = name, mnist, judge, budget
        self.rows: list[dict] = []
        self.reached: dict | None = None
        self.load = os.getloadavg()[0]
        self.start_seconds = self.start_cpu = 0.0  # building a model that starts at the average image, counted

    def build(self, start: bool) -> models.CVAE:
        """The course CVAE's architecture at seed 42, starting at the average training image when ``start``
        (its building is then timed and added to every epoch's clock)."""
        settings.seed_everything(settings.DEFAULT_SEED)
        if not start:
            return models.build_cvae(2, "dense", seed=settings.DEFAULT_SEED)
        t0, cpu0 = time.perf_counter(), time.process_time()
        model = models.build_cvae(2, "dense", seed=settings.DEFAULT_SEED, start_images=self.mnist.x_train)
        self.start_seconds, self.start_cpu = time.perf_counter() - t0, time.process_time() - cpu0
        return model

    def epoch_done(self, epoch: int, seconds: float, model, cpu: float) -> bool:
        """Record the epoch (``seconds`` of training so far, ``cpu`` seconds of this process's CPU time for it);
        True when training should stop."""
        seconds, cpu = seconds + self.start_seconds, cpu + self.start_cpu
        row = {"epoch": epoch, "seconds": seconds, "cpu": cpu, **score(model, self.mnist, self.judge)}
        self.rows.append(row)
        print(
            f"    {self.name:<34} epoch {epoch:2d}: {seconds:6.1f} s ({cpu:6.1f} s CPU)   "
            f"test -ELBO {row['negative_elbo']:6.1f}   "
            f"accuracy {row['accuracy']:.3f}   diversity {row['diversity']:.3f}",
            flush=True,
        )
        if self.reached is None and good_enough(row):
            self.reached = row
        return self.reached is not None or seconds >= self.budget

    @property
    def seconds(self) -> float | None:
        return None if self.reached is None else self.reached["seconds"]

    @property
    def cpu(self) -> float | None:
        return None if self.reached is None else self.reached["cpu"]


class QualityClock(keras.callbacks.Callback):
    """Evaluates after each epoch of a ``fit``, off the clock, into a :class:`Run`; stops once it is reached."""

    def __init__(self, run: Run):
        super().__init__()
        self.run = run

    def on_train_begin(self, logs=None):
        self._start, self._cpu_start = time.perf_counter(), time.process_time()
        self._evaluating = self._cpu_evaluating = 0.0

    def on_epoch_end(self, epoch, logs=None):
        now, cpu = time.perf_counter(), time.process_time()
        if self.run.epoch_done(
            epoch + 1, now - self._start - self._evaluating, self.model, cpu - self._cpu_start - self._cpu_evaluating
        ):
            self.model.stop_training = True
        self._evaluating += time.perf_counter() - now
        self._cpu_evaluating += time.process_time() - cpu


def course_recipe(mnist: data.MNIST, judge: keras.Model, budget: float) -> Run:
    """Train the course CVAE as ``recipes.train_cvae`` does (the decoder starting at the average training image,
    ``training.train``'s one-cycle schedule peaking at ``recipes.LEARNING_RATE``, batches of ``recipes.BATCH_SIZE``,
    a cycle of ``ONE_CYCLE_EPOCHS``), with the clock."""
    run = Run(f"course recipe, {ONE_CYCLE_EPOCHS}-epoch one-cycle", mnist, judge, budget)
    model = run.build(start=True)
    run.recipe = {
        "epochs": ONE_CYCLE_EPOCHS,
        "batch_size": recipes.BATCH_SIZE,
        "learning_rate": recipes.LEARNING_RATE,
        "schedule": "one-cycle",
    }
    training.train(
        model,
        (mnist.x_train, mnist.y_train_one_hot),
        epochs=ONE_CYCLE_EPOCHS,
        batch_size=recipes.BATCH_SIZE,
        learning_rate=recipes.LEARNING_RATE,
        progress=False,
        callbacks=[QualityClock(run)],
    )
    return run


def plain_loop(
    mnist: data.MNIST,
    judge: keras.Model,
    budget: float,
    *,
    batch_size: int,
    schedule: str,
    epochs: int,
    start: bool = False,
) -> Run:
    """The same architecture (same builder and seed) trained by a plain loop: one ``tf.function`` step per batch.

    ``schedule`` "constant": Adam at ``PLAIN_LEARNING_RATE`` for up to ``epochs`` epochs; "one-cycle": the course
    CVAE's schedule (:class:`cvae_course.training.OneCycle` peaking at ``recipes.LEARNING_RATE`` over ``epochs``).
    ``start``: the decoder starts at the average training image as the course's does (else Keras's default).
    """
    name = (
        f"plain loop, Adam {PLAIN_LEARNING_RATE:g} constant, batch {batch_size}"
        if schedule == "constant"
        else f"plain loop, the course's one-cycle, batch {batch_size}"
    ) + (", average-image start" if start else ", Keras's init")
    run = Run(name, mnist, judge, budget)
    model = run.build(start)
    x, y = mnist.x_train, mnist.y_train_one_hot
    steps = epochs * -(-len(x) // batch_size)
    rate = PLAIN_LEARNING_RATE if schedule == "constant" else training.OneCycle(recipes.LEARNING_RATE, steps)
    optimizer = keras.optimizers.Adam(rate)
    weights = model.trainable_weights

    @tf.function
    def step(images, labels):
        with tf.GradientTape() as tape:
            out = model((images, labels), training=True)
            reconstruction, kl = losses.elbo_terms(images, out["logits"], out["z_mean"], out["z_log_var"])
            loss = reconstruction + kl
        optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
        return loss

    rng = np.random.default_rng(settings.DEFAULT_SEED)
    seconds = cpu = 0.0
    for epoch in range(1, epochs + 1):
        start, cpu_start = time.perf_counter(), time.process_time()
        order = rng.permutation(len(x))
        for first in range(0, len(x), batch_size):
            batch = order[first : first + batch_size]
            step(x[batch], y[batch])
        seconds += time.perf_counter() - start
        cpu += time.process_time() - cpu_start
        if run.epoch_done(epoch, seconds, model, cpu):
            break
    return run


def set_cycle(epochs: int) -> None:
    """Measure the course's one-cycle recipe over a cycle of ``epochs`` (the ``--cycle-epochs`` flag)."""
    global ONE_CYCLE_EPOCHS
    ONE_CYCLE_EPOCHS = epochs


def time_to_quality(mnist: data.MNIST, judge: keras.Model, budget: float, max_epochs: int, rounds: int) -> list:
    """``rounds`` rounds of the course's run and the three plain loops (the reference, the reference starting at the
    average image, the course's start and schedule), in alternating order, after one warm-up round (printed, not
    returned)."""
    plain = {"budget": budget, "batch_size": PLAIN_BATCH, "schedule": "constant", "epochs": max_epochs}
    contenders = [
        lambda: course_recipe(mnist, judge, budget),
        lambda: plain_loop(mnist, judge, **plain),
        lambda: plain_loop(mnist, judge, **plain, start=True),
        lambda: plain_loop(
            mnist,
            judge,
            budget,
            batch_size=recipes.BATCH_SIZE,
            schedule="one-cycle",
            epochs=ONE_CYCLE_EPOCHS,
            start=True,
        ),
    ]
    results = []
    for r in range(rounds + 1):
        print("  warm-up round (not counted)" if r == 0 else f"  round {r}", flush=True)
        order = list(range(len(contenders)))
        runs = {}
        for i in order if r % 2 == 1 else order[::-1]:
            runs[i] = contenders[i]()
            print(f"    ... {runs[i].name}: load (1 min) {runs[i].load:.1f} when it started", flush=True)
        if r:
            results.append([runs[i] for i in order])
    return results


# ------------------------------------------------------------------------------------- trained together
def together_vs_alone(mnist: data.MNIST, rounds: int, betas=(1.0, 4.0, 16.0)) -> list[tuple[float, float]]:
    """Seconds of one epoch of the beta sweep's CVAEs trained together and one after the other, in alternation."""
    xy = (mnist.x_train, mnist.y_train_one_hot)
    times = []
    for r in range(rounds):
        pair = {}
        for how in ("together", "alone") if r % 2 == 0 else ("alone", "together"):
            group = [models.build_cvae(recipes.BETA_LATENT_DIM, beta=b, seed=settings.DEFAULT_SEED) for b in betas]
            start = time.perf_counter()
            if how == "together":
                training.train_together(group, xy, epochs=1, progress=False)
            else:
                for model in group:
                    training.train(model, xy, epochs=1, progress=False)
            pair[how] = time.perf_counter() - start
        print(
            f"    round {r + 1}: together {pair['together']:.1f} s, one after the other {pair['alone']:.1f} s "
            f"(ratio {pair['together'] / pair['alone']:.2f}; load {os.getloadavg()[0]:.1f})",
            flush=True,
        )
        times.append((pair["together"], pair["alone"]))
    return times


# ---------------------------------------------------------------------------------------------- report
def verdict(ok: bool) -> str:
    return "meets the target" if ok else "MISSES the target"


def report_training(name: str, r: dict, batch_size: int, n_images: int) -> None:
    print(
        f"{name}: {r['macs'] / 1e6:.2f} M forward MACs per image = {r['flops'] / 1e6:.2f} MFLOP per image "
        f"per training step"
    )
    print(
        f"  batch {batch_size}, {training.STEPS_PER_EXECUTION} steps per execution; {r['windows']} timed "
        f"windows of ~4,096 images over {n_images:,} images, {r['probes']} matmul probes in between"
    )
    print(f"  throughput: {r['rate_median']:,.0f} images/s median (best window {r['rate_best']:,.0f})")
    print(
        f"  seconds per 60,000-image epoch: {EPOCH_IMAGES / r['rate_median']:.1f} "
        f"(best {EPOCH_IMAGES / r['rate_best']:.1f}; extrapolated from the throughput on {n_images:,} images)"
    )
    print(
        f"  achieved: {r['gflops_median']:.1f} GFLOP/s median (best {r['gflops_best']:.1f})   "
        f"matmul: {r['matmul_median']:.1f} GFLOP/s median (best {r['matmul_best']:.1f})"
    )
    print(
        f"  share of matmul: {r['gflops_best'] / r['matmul_best']:.0%} best/best, "
        f"{r['gflops_median'] / r['matmul_median']:.0%} median/median"
    )


def report_ratios(results: list, a: int, b: int, what: str, target: bool) -> None:
    """Print run ``a``'s time to quality over run ``b``'s per round (wall and CPU seconds), with the verdict
    against ``QUALITY_RATIO`` when ``target``."""
    pairs = [(runs[a], runs[b]) for runs in results if runs[a].reached and runs[b].reached]
    if not pairs:
        print(
            f"  time ratio {what}: not measured (a run did not reach the quality)" + (f" -> {verdict(False)}" * target)
        )
        return
    for clock in ("seconds", "cpu"):
        ratios = [getattr(x, clock) / getattr(y, clock) for x, y in pairs]
        ratio = statistics.median(ratios)
        ok = f" -> {verdict(ratio <= QUALITY_RATIO)} (<= {QUALITY_RATIO})" if target else ""
        print(
            f"  time ratio {what}, {'wall clock' if clock == 'seconds' else 'CPU seconds of this process'}: "
            f"{', '.join(f'{q:.2f}' for q in ratios)} per round, median {ratio:.2f}{ok}"
        )


def throughput(mnist: data.MNIST, args: argparse.Namespace) -> None:
    """Training throughput of the dense and the convolutional CVAE, with the matmul reference in between."""
    probe = MatmulProbe(args.matmul_size)
    print(
        f"matmul reference: float32 {probe.n}x{probe.n} @ {probe.n}x{probe.n} (tf.linalg.matmul in a "
        f"tf.function), probed between training windows; 'best' = fastest single run"
    )
    print()

    dense = measure_training("dense", mnist, probe, epochs=2, batch_size=args.batch_size)
    report_training("dense CVAE (2-D latent, hidden 512-256)", dense, args.batch_size, len(mnist.x_train))
    share = dense["gflops_best"] / dense["matmul_best"]
    print(f"  target: >= {DENSE_MATMUL_SHARE:.0%} of matmul -> {verdict(share >= DENSE_MATMUL_SHARE)} (best/best)")
    print()
    conv = measure_training("conv", mnist, probe, epochs=1, batch_size=args.batch_size)
    filters = "-".join(str(f) for f in models.DEFAULT_FILTERS)
    report_training(f"convolutional CVAE (2-D latent, filters {filters})", conv, args.batch_size, len(mnist.x_train))
    seconds = EPOCH_IMAGES / conv["rate_median"]
    print(
        f"  target: <= {CONV_SECONDS_PER_60K:.0f} s per 60,000-image epoch -> "
        f"{verdict(seconds <= CONV_SECONDS_PER_60K)} (median)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--batch-size", type=int, default=128, help="batch size of the throughput runs (default: training.train's, 128)"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=120.0,
        help="give up a time-to-quality run after this many seconds of training (default 120)",
    )
    parser.add_argument("--max-epochs", type=int, default=20, help="epoch limit of the constant-rate plain loop")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the alternating comparisons (default 2)")
    parser.add_argument(
        "--cycle-epochs",
        type=int,
        default=ONE_CYCLE_EPOCHS,
        help=f"the one-cycle runs' cycle in epochs (default: the course CVAE's, {ONE_CYCLE_EPOCHS})",
    )
    parser.add_argument("--skip-together", action="store_true", help="skip the beta sweep trained together")
    parser.add_argument("--matmul-size", type=int, default=2048, help="n of the n x n matmul reference")
    parser.add_argument("--skip-quality", action="store_true", help="only measure throughput")
    parser.add_argument("--skip-throughput", action="store_true", help="skip the throughput and GFLOP/s section")
    args = parser.parse_args(argv)
    set_cycle(args.cycle_epochs)

    mnist = data.load_mnist(fast=False)
    load_before = os.getloadavg()
    print("cvae-course training-speed benchmark")
    print(
        f"machine: {platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} cores available; "
        f"Python {platform.python_version()}, TensorFlow {tf.__version__}, Keras {keras.__version__}"
    )
    print(
        f"load average (1 min) at start: {load_before[0]:.1f}  (above the core count = other processes "
        f"competed for the CPU and every figure below is inflated)"
    )
    print(f"data: {len(mnist.x_train):,} training and {len(mnist.x_test):,} test images from {mnist.source}")
    print(
        f"FLOP convention: forward multiply-accumulates of Dense, Conv2D and Conv2DTranspose layers "
        f"x {FLOPS_PER_MAC} (FLOPs per MAC) x {TRAIN_PASSES} (forward + backward); biases, activations, "
        f"loss and optimizer not counted"
    )
    if not args.skip_throughput:
        throughput(mnist, args)

    if not args.skip_quality:
        print()
        judge = recipes.load_judge()
        judge_accuracy = evaluate.accuracy(judge, mnist.x_test, mnist.y_test)
        print(
            f"time to quality of the course CVAE (dense, 2-D latent) until test -ELBO <= "
            f"{QUALITY['negative_elbo']:.0f}, conditional accuracy >= {QUALITY['accuracy']:.2f} and diversity >= "
            f"{QUALITY['diversity']:.2f}; judge accuracy on the {len(mnist.x_test):,} real test digits: "
            f"{judge_accuracy:.4f}. Seconds count training (the first epoch includes tracing) and building a model "
            f"that starts at the average image, not the evaluation after each epoch. One warm-up round, then "
            f"{args.rounds} rounds in alternating order."
        )
        results = time_to_quality(mnist, judge, args.budget, args.max_epochs, args.rounds)
        recipe = getattr(results[0][0], "recipe", {})
        print(
            f"  course recipe: {recipe.get('epochs')}-epoch cycle, batch {recipe.get('batch_size')}, Adam peak "
            f"{recipe.get('learning_rate')}, schedule {recipe.get('schedule')}, decoder starting at the average image"
        )
        for r, runs in enumerate(results):
            print(f"  round {r + 1}:")
            for run in runs:
                got = (
                    f"{run.seconds:.1f} s, {run.cpu:.1f} s CPU (epoch {run.reached['epoch']})"
                    if run.reached
                    else f"not reached in {run.rows[-1]['epoch']} epochs ({run.rows[-1]['seconds']:.1f} s)"
                )
                print(f"    {run.name}: {got}")
        course = [runs[0].seconds for runs in results if runs[0].reached]
        if course:
            print(
                f"  course recipe: {statistics.median(course):.1f} s median -> "
                f"{verdict(statistics.median(course) <= QUALITY_SECONDS)} (<= {QUALITY_SECONDS:.0f} s)"
            )
        report_ratios(results, 0, 1, "course recipe / plain loop (the reference: Keras's init, constant rate)", True)
        report_ratios(results, 0, 2, "course recipe / plain loop at the constant rate with the same start", False)
        report_ratios(
            results, 2, 1, "plain loop: average-image start / Keras's init (what the start alone gives)", False
        )
        report_ratios(results, 0, 3, "course recipe / plain loop with its start and schedule (what fit adds)", False)
    if not args.skip_together:
        print()
        print(
            "beta sweep: three 8-D CVAEs (beta 1, 4, 16), one epoch each, trained together "
            "(training.train_together) and one after the other (training.train), in alternation:"
        )
        pairs = together_vs_alone(mnist, args.rounds)
        print(f"  time ratio together / one after the other: median {statistics.median(t / a for t, a in pairs):.2f}")
    load_after = os.getloadavg()
    print()
    print(f"load average (1 min) at the end: {load_after[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
