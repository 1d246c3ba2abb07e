"""Draw a digit: the learner's own handwriting, read by the CVAE.

A canvas in the page (``static/draw.js``, an anywidget: mouse, pen and touch through pointer events, "clear" and
"undo") sends its strokes to the kernel when a stroke ends. The kernel turns them into a 28 x 28 digit the way
MNIST made its digits (:func:`mnist_like`: the ink is scaled to fit a 20 x 20 box, aspect kept, and placed so
that its centre of mass sits at the centre of the 28 x 28 image) and the CVAE reads it:

* the label by ELBO (lesson 05's classifier, :func:`label_scores` here in one batch): -ELBO under each
  label, shown as bars of p(label | drawing) = softmax(-score) with a uniform prior over the ten digits;
* the style code: the encoder's mean given the winning label;
* an anomaly score: the best label's -ELBO in nats, and the share of real test digits that score lower;
* the handwriting redrawn as all ten digits (the style code decoded with every label).

This panel needs the encoder, so it runs in the kernel (it says so on screen): one round trip per finished stroke,
answered by ONE message (undo and clear too: the kernel's state follows the page). The whole reading is one call of
one TensorFlow graph (:class:`Reader`: the ten labels' encodings, the ``N_SAMPLES`` draws of z for each, the scores,
the best label's code and the ten redrawn digits), with the draws of z prepared once (they do not depend on the
drawing); the result - numbers, the bars and summary as HTML, the preview and the redrawn digits as PNG - goes back
as one custom message with two binary buffers, and ``draw.js`` renders all of it. The panel keeps the replies to the
last ``KEPT_READINGS`` drawings, so "undo" (back to a drawing it has read) is answered without reading again.

Undo and clear at screen speed: the page keeps the readings it got too (``draw.js``, the last 20, keyed by the
strokes it sent, and the empty pad's apart) and shows the one of the drawing it goes back to in the click's own
handler, before the kernel answers; the empty pad's reading comes with the answer to a view's first request. To pair
a reading with the drawing it answers, the page names each drawing with a ``revision`` sent with the strokes in the
same update (the view's random prefix and a count, e.g. ``"k3f9x2-4"``) and the reading echoes it: the page skips a
reading it already shows and never shows one of a drawing that is no longer the current one. A drawing set from
Python (:meth:`DrawDigit.draw` or :meth:`DrawDigit.clear`) is named ``"py-N"`` by the kernel, so Python's and the
page's names differ even when both draw at the same time (two views share a name only if their six-character random
prefixes collide: unlikely, not impossible). When the kernel reads a stroke of the page after Python's drawing (the
stroke was on its way), the page, which shows Python's drawing, sends that drawing again: the kernel ends on what
the page shows.
"""

from __future__ import annotations

import collections
import html
import pathlib

import anywidget  # noqa: E402, I001  (after cvae_course.models: TensorFlow is imported quietly first)
import ipywidgets  # noqa: E402
import numpy as np
import traitlets  # noqa: E402
from PIL import Image as PILImage
from PIL import ImageDraw

from cvae_course._keras import ops, tf
from cvae_course.evaluate import negative_elbo_per_image
from cvae_course.layers import Sampling
from cvae_course.losses import kl_divergence, reconstruction_loss
from cvae_course.models import CVAE
from cvae_course.playground.pages import page_module
from cvae_course.playground.panels import PLAYGROUND_CSS, path_note, style_sheet
from cvae_course.playground.pictures import tile, to_png
from cvae_course.validation import NUM_CLASSES, as_images, check_model, check_positive_int

__all__ = ["BOX", "PAD_SIZE", "DrawDigit", "DrawPad", "Reader", "label_scores", "mnist_like", "rasterize"]

STATIC = pathlib.Path(__file__).resolve().parent / "static"
PAD_SIZE = 280  # the canvas: 280 x 280 CSS pixels, ten per MNIST pixel
STROKE_WIDTH = 0.08  # pen width as a share of the canvas side: about 1.6 MNIST pixels once the ink fits 20 x 20
BOX = 20  # MNIST's digits were scaled to fit 20 x 20 pixels, then centred by their centre of mass in 28 x 28
SIDE = 28
N_SAMPLES = 8  # draws of z per -ELBO: the bars and the score barely move when the same drawing is read again
REFERENCE_SIZE = 300  # real test digits the anomaly score is compared with
KEPT_READINGS = 32  # drawings whose reply a panel keeps: "undo" back to any of them is answered without the CVAE
# (the page keeps 20 readings, and the empty pad's apart: each of those holds two decoded pictures in the browser)


def label_scores(model: CVAE, images, *, seed: int = 0) -> np.ndarray:
    """-ELBO of every image under every label, (N, 10) nats, ``N_SAMPLES`` draws of z each: the numbers of
    :func:`cvae_course.applications.label_scores`, computed as one batch of N x 10 (image, label) pairs instead of
    ten passes, so that a drawing is read in a fraction of a second."""
    x = as_images(images)
    pairs = np.repeat(x, NUM_CLASSES, axis=0)
    labels = np.tile(np.arange(NUM_CLASSES), len(x))
    return negative_elbo_per_image(model, pairs, labels, n_samples=N_SAMPLES, seed=seed).reshape(len(x), NUM_CLASSES)


class Reader:
    """The CVAE's whole reading of one drawing as ONE TensorFlow graph call: traced once, then one call per drawing
    returns the ten labels' scores, the style code and the ten redrawn digits (instead of some thirty eager Keras
    calls, or one call for the scores and a second one for the redrawing).

    ``reader(image (28, 28, 1))`` returns ``(scores (10,) float64, code (latent_dim,) float32, redrawn (10, 28, 28,
    1) float32)``: the numbers of :func:`label_scores` for this one image (the same ``N_SAMPLES`` draws of z: the
    draws of ``Sampling(seed)`` for a batch of ten rows, prepared here once since they do not depend on the
    drawing; the reconstruction terms of the draws summed in float64, as ``elbo_terms_per_image`` sums them, exact in
    any order for eight float32 terms), the encoder's mean given the best label (what ``model.encode(image,
    [label])`` returns; the label picked in the graph from the float64 scores), and that code decoded with every
    label (``model.generate``). Equal to those calls up to float32 rounding of differently batched matrix products
    (the tests check it).
    """

    def __init__(self, model: CVAE, *, seed: int = 0):
        self.model = check_model(model, CVAE, kind="trained CVAE")
        latent_dim = model.latent_dim
        sampling = Sampling(seed=seed)  # the stream label_scores draws from: eps of shape (10, latent_dim) each
        zeros = ops.zeros((NUM_CLASSES, latent_dim))
        eps = np.stack([ops.convert_to_numpy(sampling([zeros, zeros])) for _ in range(N_SAMPLES)])
        labels = np.eye(NUM_CLASSES, dtype=np.float32)
        eps_t, labels_t = tf.constant(eps, tf.float32), tf.constant(labels)
        sample_labels = tf.constant(np.tile(labels, (N_SAMPLES, 1)))  # the labels of the N_SAMPLES x 10 draws

        def read(x):
            xs = tf.repeat(x, NUM_CLASSES, axis=0)  # the drawing once per label
            out = model.encoder([xs, labels_t], training=False)
            mean, log_var = out[0], out[1]
            z = mean[None] + tf.exp(0.5 * log_var)[None] * eps_t  # (N_SAMPLES, 10, latent_dim)
            logits = model.decoder(
                [tf.reshape(z, (N_SAMPLES * NUM_CLASSES, latent_dim)), sample_labels], training=False
            )
            rec = tf.reshape(reconstruction_loss(tf.tile(xs, (N_SAMPLES, 1, 1, 1)), logits), (N_SAMPLES, NUM_CLASSES))
            kl = tf.cast(kl_divergence(mean, log_var), tf.float64)
            scores = tf.reduce_sum(tf.cast(rec, tf.float64), axis=0) / N_SAMPLES + kl
            code = mean[tf.argmin(scores)]
            redrawn = tf.sigmoid(model.decoder([tf.repeat(code[None], NUM_CLASSES, axis=0), labels_t], training=False))
            return scores, code, redrawn

        # traced and run once here: a call of the concrete graph skips tf.function's matching of arguments to
        # traces, and the learner's first stroke waits neither for the tracing nor for the graph's first run
        signature = [tf.TensorSpec([1, SIDE, SIDE, 1], tf.float32)]
        self._read = tf.function(read, input_signature=signature).get_concrete_function()
        self._read(tf.zeros([1, SIDE, SIDE, 1]))

    def __call__(self, image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = as_images(np.asarray(image, dtype=np.float32).reshape(1, SIDE, SIDE, 1))
        scores, code, redrawn = self._read(tf.constant(x))
        return scores.numpy(), code.numpy(), redrawn.numpy()


def rasterize(strokes, size: int = PAD_SIZE, width: float = STROKE_WIDTH) -> np.ndarray:
    """Strokes as ink: (size, size) float32 in [0, 1] (1 is ink).

    Args:
        strokes: a list of strokes, each a list of [x, y] points with x and y in [0, 1] (0, 0 the top left).
        size: pixels per side of the picture.
        width: pen width as a share of the side.
    """
    size = check_positive_int(size, "size")
    picture = PILImage.new("L", (size, size), 0)
    pen = ImageDraw.Draw(picture)
    radius = max(width * size / 2, 0.5)
    for k, stroke in enumerate(strokes):
        points = np.asarray(stroke, dtype=np.float64).reshape(-1, 2) if len(stroke) else np.zeros((0, 2))
        if not np.all(np.isfinite(points)):
            raise ValueError(f"stroke {k} holds a point that is not a finite number: {stroke!r}")
        xy = [(float(x) * size, float(y) * size) for x, y in points]
        if len(xy) > 1:
            pen.line(xy, fill=255, width=int(round(2 * radius)), joint="curve")
        for x, y in xy:  # round ends and single taps
            pen.ellipse([x - radius, y - radius, x + radius, y + radius], fill=255)
    return np.asarray(picture, dtype=np.float32) / 255.0


def mnist_like(ink) -> np.ndarray:
    """Any-size ink (H, W) in [0, 1] as an MNIST digit (28, 28, 1): scaled to fit 20 x 20, centred by mass.

    The bounding box of the ink is scaled (aspect kept, with antialiasing) so that its longer side is 20 pixels,
    then placed in a 28 x 28 image so that its centre of mass lands on the image's centre (13.5, 13.5), as MNIST's
    makers did. A blank picture gives a blank digit.
    """
    x = np.asarray(ink, dtype=np.float32)
    if x.ndim != 2 or min(x.shape) < 1:
        raise ValueError(f"ink must be a 2-D picture (height, width), got shape {x.shape}")
    if not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1:
        raise ValueError("ink must hold values in [0, 1] (0 is paper, 1 is ink)")
    out = np.zeros((SIDE, SIDE), dtype=np.float32)
    rows, cols = np.nonzero(x > 0)
    if not len(rows):
        return out[..., None]
    crop = x[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    scale = BOX / max(crop.shape)
    height, width = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    small = PILImage.fromarray(np.round(crop * 255).astype(np.uint8)).resize((width, height), PILImage.LANCZOS)
    small = np.clip(np.asarray(small, dtype=np.float32) / 255.0, 0.0, 1.0)
    mass = small.sum()
    if mass <= 0:
        return out[..., None]
    cy = (small.sum(axis=1) * np.arange(height)).sum() / mass
    cx = (small.sum(axis=0) * np.arange(width)).sum() / mass
    top = int(np.clip(round((SIDE - 1) / 2 - cy), 0, SIDE - height))
    left = int(np.clip(round((SIDE - 1) / 2 - cx), 0, SIDE - width))
    out[top : top + height, left : left + width] = small
    return out[..., None]


class DrawPad(anywidget.AnyWidget):
    """The canvas and the reading: ``strokes`` (a list of strokes of [x, y] points in [0, 1]) follows the page after
    every stroke, undo and clear, together with ``revision`` (the drawing's name: the view's random prefix and its
    count, e.g. ``"k3f9x2-4"``, or ``"py-N"`` for a drawing set from Python; sent in the same update, neither is
    echoed back); the reading comes back as one custom message (``DrawDigit._send_reading``), which carries the
    revision it answers, and the page renders it: the preview, the summary, the bars and the ten redrawn digits."""

    _esm = page_module("draw.js")  # with kernel.js: "run this cell again" after a kernel restart
    _css = PLAYGROUND_CSS
    size = traitlets.Int(PAD_SIZE).tag(sync=True)
    pen = traitlets.Float(STROKE_WIDTH).tag(sync=True)
    strokes = traitlets.List(traitlets.List(traitlets.List(traitlets.Float()))).tag(sync=True, echo_update=False)
    revision = traitlets.Unicode("").tag(sync=True, echo_update=False)


def _bars(probabilities: np.ndarray | None, scores: np.ndarray | None) -> str:
    """p(label | drawing) as one horizontal bar per digit (HTML, theme colours), the winner in bold. ``None`` (an
    empty pad, nothing to read) gives the ten rows with empty bars, no numbers and no winner."""
    best = None if probabilities is None else int(np.argmax(probabilities))
    rows = []
    for k in range(NUM_CLASSES):
        weight = "700" if k == best else "400"
        if probabilities is None:
            width, value = 0.0, '<span class="cvae-bar-score">draw a digit</span>' if k == 0 else ""
        else:
            width = 100 * probabilities[k]
            value = f'{probabilities[k]:6.1%} <span class="cvae-bar-score">-ELBO {scores[k]:.1f}</span>'
        rows.append(
            f'<div class="cvae-bar-row" style="font-weight:{weight}"><span class="cvae-bar-digit">{k}</span>'
            f'<span class="cvae-bar"><span class="cvae-bar-fill" style="width:{width:.1f}%"></span></span>'
            f'<span class="cvae-bar-value">{value}</span></div>'
        )
    return '<div class="cvae-bars" role="list" aria-label="p(label | drawing)">' + "".join(rows) + "</div>"


def _article(label: int) -> str:
    """ "an" before a digit whose name starts with a vowel sound (8: "an eight"), else "a"."""
    return "an" if label == 8 else "a"


class DrawDigit(ipywidgets.VBox):
    """Draw a digit; the CVAE reads its label (with per-label bars), its style code, an anomaly score, and redraws
    it as all ten digits. Each finished stroke is read in the kernel (one round trip); undo and clear show at once the
    reading the page kept of the drawing they go back to, while the kernel's state (``last``, :meth:`read`,
    :attr:`image`) follows the page. Set the drawing from Python with :meth:`draw` and :meth:`clear`.

    Args:
        model: a trained CVAE (dense or conv: this panel runs in the kernel).
        reference_images: real digits (N, 28, 28, 1) the anomaly score is compared with, e.g. the test set
            (the first 300 are used).
        reference_labels: ignored (the score takes each digit's best label, as for the drawing); accepted so
            that the call reads like the other panels'.
        scale: screen pixels per MNIST pixel of the ten redrawn digits.
        seed: seeds the draws of z behind each -ELBO.
    """

    def __init__(self, model: CVAE, reference_images, reference_labels=None, *, scale: int = 3, seed: int = 0):
        super().__init__()
        self.model = check_model(model, CVAE, kind="trained CVAE")
        self.scale = check_positive_int(scale, "scale")
        self.seed = int(seed)
        reference = as_images(reference_images, "reference_images")[:REFERENCE_SIZE]
        if not len(reference):
            raise ValueError("reference_images must hold at least one real digit, e.g. mnist.x_test")
        self.reference_scores = label_scores(model, reference, seed=self.seed).min(axis=1)
        self.reader = Reader(model, seed=self.seed)
        self.pad = DrawPad()
        self.add_class("cvae-draw")
        self.add_class("cvae-panel")
        self.children = [
            style_sheet(),
            path_note(
                "kernel",
                "needs the encoder: each finished stroke makes one round trip, answered in one message; "
                "undo and clear show at once the reading the page already has",
            ),
            self.pad,
        ]
        self._blank = to_png(
            tile(
                np.zeros((NUM_CLASSES, SIDE, SIDE)),
                NUM_CLASSES,
                scale=self.scale,
                captions=[str(k) for k in range(NUM_CLASSES)],
            )
        )
        self._replies: collections.OrderedDict = collections.OrderedDict()  # see _render
        self._rendered = None  # (drawing, revision) of the last reading sent: see _changed
        self._from_python = 0  # drawings set from Python, named "py-1", "py-2", ...
        self._holding = False  # draw() and clear() set strokes and revision together: one reading after both
        self.pad.observe(self._changed, names=["strokes", "revision"])
        self.pad.on_msg(self._request)
        self._render()
        self._empty = self._replies[self._key()]  # the empty pad's reply, sent with a view's first reading

    # Python API -------------------------------------------------------------------------------
    def draw(self, strokes) -> None:
        """Set the drawing from Python: strokes of [x, y] points in [0, 1], as the canvas sends them.

        Sends the page two messages: one state update with the strokes and their revision (``"py-N"``), then the
        reading. This (or :meth:`clear`) is the supported way to set the drawing from Python: a plain
        ``pad.strokes = ...`` works but sends three (the strokes, the revision the kernel gives them, the reading),
        and a stroke the page sends between the first two may be paired with the wrong reading there."""
        self._set_from_python(
            [[[float(x), float(y)] for x, y in np.asarray(s, dtype=np.float64).reshape(-1, 2)] for s in strokes]
        )

    def clear(self) -> None:
        """Wipe the drawing (the "clear" button) from Python: two messages to the page, as :meth:`draw` sends (rather
        than ``pad.strokes = []``)."""
        self._set_from_python([])

    def _set_from_python(self, strokes: list) -> None:
        """The strokes and a new ``"py-N"`` revision in ONE state update, then the reading (after the update, so
        that the page knows the revision when the reading comes)."""
        self._holding = True
        try:
            with self.pad.hold_sync():
                self.pad.strokes = strokes
                self.pad.revision = self._next_revision()
        finally:
            self._holding = False
        self._render()

    def _next_revision(self) -> str:
        self._from_python += 1
        return f"py-{self._from_python}"

    @property
    def image(self) -> np.ndarray:
        """The drawing as the CVAE sees it: (28, 28, 1) float32 in [0, 1]."""
        return mnist_like(rasterize(self.pad.strokes, width=self.pad.pen))

    def read(self) -> dict | None:
        """What the CVAE reads in the drawing, or None when nothing is drawn.

        Returns a dict: ``scores`` (10,) -ELBO per label in nats; ``probabilities`` (10,) p(label | drawing);
        ``label`` the best digit; ``code`` (latent_dim,) the encoder's mean given that label; ``anomaly`` the best
        label's -ELBO in nats; ``anomaly_share`` the share of reference digits with a lower score (0-1);
        ``redrawn`` (10, 28, 28, 1) the code decoded as every digit.
        """
        return self._read(self.image)

    def _read(self, x: np.ndarray) -> dict | None:
        """:meth:`read` of the drawing ``x`` (28, 28, 1), already made MNIST-like."""
        if not x.any():
            return None
        scores, code, redrawn = self.reader(x)
        logits = -(scores - scores.min())
        probabilities = np.exp(logits) / np.exp(logits).sum()
        label = int(np.argmin(scores))
        anomaly = float(scores[label])
        return {
            "scores": scores,
            "probabilities": probabilities,
            "label": label,
            "code": code,
            "anomaly": anomaly,
            "anomaly_share": float(np.mean(self.reference_scores < anomaly)),
            "redrawn": redrawn,
        }

    # rendering --------------------------------------------------------------------------------
    def _key(self) -> tuple:
        """The drawing as a dict key: its strokes, the pen and the redrawn digits' scale."""
        return (tuple(tuple(tuple(point) for point in stroke) for stroke in self.pad.strokes), self.pad.pen, self.scale)

    def _changed(self, change) -> None:
        """One reading per new (drawing, revision). The page sets both in one update (two notifications, one
        reading); strokes set from Python with ``pad.strokes = ...`` keep the last revision, so they get a ``"py-N"``
        one here first (the page must not take their reading for the one it already shows). That sends the strokes
        and the revision in two updates: :meth:`draw` and :meth:`clear` send them in one."""
        state = (self._key(), self.pad.revision)
        if self._holding or state == self._rendered:
            return
        if change["name"] == "strokes" and self._rendered is not None and self.pad.revision == self._rendered[1]:
            self.pad.revision = self._next_revision()  # its notification renders
            return
        self._render()

    def _request(self, _widget, content, _buffers) -> None:
        """A view asks for the current reading (when it is first drawn): one reply, to every view, with the empty
        pad's reading in it too (what "clear" shows at once)."""
        if isinstance(content, dict) and content.get("kind") == "refresh":
            self._send_reading(with_empty=True)

    def _render(self) -> None:
        """Read the drawing and send everything the page shows about it in one message.

        The reply to each of the last ``KEPT_READINGS`` drawings is kept: "undo" goes back to a drawing the panel
        has read already (the drawing before the last stroke), and its reply is sent again as it was made, without
        rasterizing or reading anything (the reading of a drawing is the same every time: fixed draws of z). The kept
        replies, like the anomaly score's reference, were made with the model's weights when they were read: after
        training the model further, build a new panel."""
        key = self._key()
        self._rendered = (key, self.pad.revision)
        reply = self._replies.get(key)
        if reply is None:
            reply = self._reply()
            self._replies[key] = reply
            if len(self._replies) > KEPT_READINGS:
                self._replies.popitem(last=False)
        else:
            self._replies.move_to_end(key)
        self.last, self.preview_png, self.bars_html, self.summary_html, self.redrawn_png = reply
        self._send_reading()

    def _reply(self) -> tuple[dict | None, bytes, str, str, bytes]:
        """The reading of the drawing and how the page shows it: (reading, preview PNG, bars HTML, summary HTML,
        redrawn PNG)."""
        x = self.image
        preview_png = to_png(tile(x[None], 1, scale=4, gap=1))
        r = self._read(x)  # the same picture: rasterized and made MNIST-like once per stroke, not twice
        if r is None:
            bars = _bars(None, None)  # nothing drawn: no scores and no winner
            return r, preview_png, bars, "<p>Draw a digit in the box (mouse, pen or finger).</p>", self._blank
        code = ", ".join(f"{v:.2f}" for v in r["code"])
        summary = (
            f"<p>Read as {_article(r['label'])} <b>{r['label']}</b> (highest ELBO).<br>Style code z = [{html.escape(code)}].<br>"
            f"Anomaly score: -ELBO {r['anomaly']:.1f} nats, higher than {r['anomaly_share']:.0%} of "
            f"{len(self.reference_scores)} real test digits.</p>"
        )
        captions = [str(k) for k in range(NUM_CLASSES)]
        redrawn = to_png(tile(r["redrawn"], NUM_CLASSES, scale=self.scale, highlight=r["label"], captions=captions))
        return r, preview_png, _bars(r["probabilities"], r["scores"]), summary, redrawn

    def _send_reading(self, *, with_empty: bool = False) -> None:
        """The reading as ONE custom message: text and HTML in its content, the two PNGs as binary buffers, and the
        ``revision`` of the drawing it answers. ``with_empty`` (a view's first request) adds the empty pad's reading
        when the drawing is not empty: its summary and bars under ``empty``, its two PNGs as buffers 3 and 4."""
        content = {
            "kind": "reading",
            "revision": self.pad.revision,
            "strokes": len(self.pad.strokes),
            "summary": self.summary_html,
            "bars": self.bars_html,
            "label": None if self.last is None else self.last["label"],
        }
        buffers = [self.preview_png, self.redrawn_png]
        if with_empty and self.pad.strokes:
            _, preview, bars, summary, redrawn = self._empty
            content["empty"] = {"summary": summary, "bars": bars}
            buffers += [preview, redrawn]
        self.pad.send(content, buffers)
