"""The playground's panels: ipywidgets controls that steer a trained CVAE by hand.

Three panels, each an ``ipywidgets.VBox`` you can display on its own, and :class:`Playground` with all three:

* :class:`Generator`: digit buttons "0".."9", latent sliders "z[0]", "z[1]", ... (the first few dimensions,
  plus a "new random style" button), a "temperature" slider, and a grid of generated digits around the code.
* :class:`StyleTransfer`: a real test digit, its reconstruction, and its handwriting style drawn as 0-9.
* :class:`Interpolation`: a slider along the path between two (label, style) end points.

Updates must feel instant (well under 50 ms), so a change never builds a matplotlib figure: the decoder runs
on a small batch as a TensorFlow graph traced once, the sigmoid inside it (no ``predict``, because an eager Keras call
spends ~10 ms in Python per update; and a concrete graph, called without ``tf.function``'s matching of arguments to
traces; style transfer encodes and decodes in ONE such call), the probabilities become grey ink on white pixels and the
pictures go to the panel's one :class:`Picture` widget as PNG bytes. Every panel keeps ``last_images``, the
probabilities it drew, and each number it shows equals what ``model.generate`` / ``model.reconstruct`` return.

One message per update: JupyterLab's round trip is the floor of every kernel-decoded control, and each extra
message adds to it. So a panel's pictures and caption live in ONE widget (:class:`Picture`, an anywidget) set in one
state update, the digit buttons are one widget too (:class:`DigitButtons`: a press is one request, where ipywidgets'
ToggleButtons sends two), and the panel's own controls do not echo a value the page sent back to the page
(ipywidgets' ``echo_update``): moving a slider or pressing a digit is one request and one reply. A control that
Python moves ("new random style" and ``set_latent`` move the z sliders, "random digit" and ``show`` the test image
slider, ``set_label`` the digit) sends no message of its own either: its move travels in the picture's update
(``controls``: the value before and after), and ``static/picture.js`` makes it on the control in the page after the
picture is painted, unless the learner moved that control meanwhile; the page's float sliders do not send the value
back. So a button press is one request answered with one message as well (measured by
benchmarks/browser_latency.py).
"""

from __future__ import annotations

import contextlib
import pathlib
from collections.abc import Sequence

import anywidget
import ipywidgets as widgets
import numpy as np
import traitlets

from cvae_course._keras import tf
from cvae_course.data import blend_labels, one_hot
from cvae_course.models import CVAE
from cvae_course.playground.pages import page_module
from cvae_course.playground.pictures import tile, to_png, with_marker
from cvae_course.validation import (
    NUM_CLASSES,
    as_images,
    as_labels,
    check_code,
    check_digit,
    check_in_range,
    check_index,
    check_model,
    check_positive_int,
)

__all__ = [
    "MAX_SLIDERS",
    "PLAYGROUND_CSS",
    "TEMPERATURE_RANGE",
    "Z_LIMIT",
    "Z_STEP",
    "DigitButtons",
    "Generator",
    "Interpolation",
    "Picture",
    "Playground",
    "StyleTransfer",
    "path_note",
    "style_sheet",
]

Z_LIMIT = 3.0  # sliders span [-3, 3]: the prior N(0, 1) puts 99.7% of its mass there
Z_STEP = 0.05  # slider resolution; random styles are rounded to it so that a slider can show them exactly
TEMPERATURE_RANGE = (0.1, 2.0)
MAX_SLIDERS = 4  # latent dimensions that get their own slider; the rest change with "new random style"
_WIDE_LABEL = {"description_width": "6.5em"}  # room for "temperature" and "test image"; every label as wide
SLIDER_WIDTH = "40em"  # about 480 px of track: one pixel is 0.0125 in z (the test image slider has a step button)
PLAYGROUND_CSS = pathlib.Path(__file__).resolve().parent / "static" / "playground.css"

_PATHS = {
    "browser": "decoded in your browser: the picture follows every move without a round trip to the kernel",
    "kernel": "computed in the Python kernel: every change makes one round trip through Jupyter",
}


def path_note(path: str, detail: str = "") -> widgets.HTML:
    """The line at the top of a panel that says where its pictures are computed: ``"browser"`` or ``"kernel"``."""
    if path not in _PATHS:
        raise ValueError(f"path must be 'browser' or 'kernel', got {path!r}")
    text = _PATHS[path] + (f" ({detail})" if detail else "")
    note = widgets.HTML(
        f'<div class="cvae-path-note" role="note"><span class="cvae-b-badge">{path}</span> {text}</div>'
    )
    note.add_class("cvae-path")
    return note


def style_sheet() -> widgets.HTML:
    """The playground's style sheet (theme colours, the active digit button, widths) as an HTML widget."""
    return widgets.HTML(f"<style>{PLAYGROUND_CSS.read_text()}</style>", layout=widgets.Layout(display="none"))


class _Panel(widgets.VBox):
    """What the panels share: the model, a direct decoder call and "hold" to batch control changes."""

    def __init__(self, model: CVAE, **kwargs):
        super().__init__(**kwargs)
        self.model = check_model(model, CVAE, kind="trained CVAE")
        self.latent_dim = model.latent_dim
        self._decode_graph = None  # traced at the first picture (style transfer never needs it)
        self.last_images = np.zeros((0, 28, 28, 1), dtype=np.float32)
        self._held = 0
        self._after_hold: list = []  # renderers a nested hold asked for, run when the outermost hold ends
        # model id -> [trait, old, new] of the controls Python moved since a render (old: before the first move)
        self._moved: dict[str, list] = {}

    def _set_control(self, control: widgets.Widget, name: str, value) -> None:
        """Set ``control.<name>`` to ``value`` from Python without a message of its own: the page gets the value with
        the panel's next picture (:meth:`_moved_controls`). ``value`` must be valid already (checked, within the
        control's range): a value the control changed would also go out the usual way, and the picture's copy would
        arrive after it."""
        old = getattr(control, name)
        if old == value:
            return
        if getattr(control, "comm", None) is None:  # closed: no page to tell
            setattr(control, name, value)
            return
        first = self._moved.get(control.model_id)
        # before setting it: the control's observer renders at once
        self._moved[control.model_id] = [name, first[1] if first else old, value]
        with control._lock_property(**{name: value}):  # what ipywidgets does for a value the page sent: no message
            setattr(control, name, value)

    def _moved_controls(self) -> list[list]:
        """[[model id, trait, old, new], ...] of the controls Python moved since the last render (and forget them):
        ``old`` is the value the kernel had before the first move, ``new`` the value now. The page sets ``new`` only
        on a control that still shows ``old``: one the learner moved meanwhile keeps the learner's value (whose own
        request reaches the kernel after this render, so the kernel follows the page)."""
        moved = [[model_id, name, old, new] for model_id, (name, old, new) in self._moved.items() if old != new]
        self._moved.clear()
        return moved

    def _decode(self, z: np.ndarray, labels_one_hot: np.ndarray) -> np.ndarray:
        """sigmoid(decoder(z, label)) for a small batch: one direct call, the fast path behind every update."""
        if self._decode_graph is None:
            self._decode_graph = _decode_graph(self.model)
        z, y = tf.constant(z, tf.float32), tf.constant(labels_one_hot, tf.float32)
        return self._decode_graph(z, y).numpy()

    @contextlib.contextmanager
    def hold(self, *first):
        """Change several controls, render once at the end (after the renderers in ``first``, if any). Nested holds
        render once, at the end of the outermost."""
        self._held += 1
        try:
            yield
        except BaseException:
            if self._held == 1:  # nothing is rendered after a failed change, nor at the next hold
                self._after_hold = []
            raise
        finally:
            self._held -= 1
        self._after_hold.extend(render for render in first if render not in self._after_hold)
        if self._held:
            return
        renders, self._after_hold = self._after_hold, []
        for render in renders:
            render()
        self._render()

    def _changed(self, _change=None) -> None:
        if not self._held:
            self._render()

    def _render(self) -> None:  # pragma: no cover - every panel defines it
        raise NotImplementedError


def _decode_graph(model: CVAE):
    """sigmoid(decoder(z, y)) as a concrete TensorFlow graph: z (N, latent_dim) and y (N, 10) float32 tensors in,
    probabilities out. Called directly, it skips ``tf.function``'s matching of the arguments to its traces (part of
    the kernel-side cut the CHANGELOG gives for 77ae719, measured together with two other changes, not alone)."""
    return tf.function(
        lambda z, y: tf.sigmoid(model.decoder([z, y], training=False)),
        input_signature=[
            tf.TensorSpec([None, model.latent_dim], tf.float32),
            tf.TensorSpec([None, NUM_CLASSES], tf.float32),
        ],
    ).get_concrete_function()


def _transfer_graph(model: CVAE):
    """One image's style and that style drawn as every digit, in ONE concrete graph: x (1, 28, 28, 1) and its one-hot
    label y (1, 10) in; the encoder's mean (1, latent_dim) and sigmoid(decoder(mean, k)) for k = 0..9 out (one call
    instead of an encoder call and a decoder call)."""
    every_digit = tf.constant(np.eye(NUM_CLASSES, dtype=np.float32))

    def transfer(x, y):
        style = model.encoder([x, y], training=False)[0]
        repeated = tf.repeat(style, NUM_CLASSES, axis=0)
        return style, tf.sigmoid(model.decoder([repeated, every_digit], training=False))

    spec = [tf.TensorSpec([1, 28, 28, 1], tf.float32), tf.TensorSpec([1, NUM_CLASSES], tf.float32)]
    return tf.function(transfer, input_signature=spec).get_concrete_function()


class Picture(anywidget.AnyWidget):
    """A panel's pictures and caption in one widget (``static/picture.js``): an optional picture ``before`` the
    main one (``value``), an optional one ``after`` it, and a caption (HTML) above them. :meth:`show` sets every
    part that changed in ONE state message; each PNG travels as a binary buffer.

    ``classes`` and ``alts`` are the CSS class and the alternative text of the three ``<img>`` elements (before,
    main, after); ``sizes`` their [width, height] in screen pixels: a picture's own size, or for a main picture shown
    with a ``zoom`` that many screen pixels per picture pixel (whole pixels, never smoothed: ``image-rendering:
    pixelated``), never stretched otherwise.
    ``controls`` carries the panel's controls that Python moved for this picture: ``{"n": update number, "set":
    [[model id, trait, old, new], ...]}``; after painting the picture the page sets ``new`` on each control that
    still shows ``old`` (the value the kernel saw before the move: a control the learner moved since keeps its value).
    """

    _esm = page_module("picture.js")  # with kernel.js: "run this cell again" after a kernel restart
    value = traitlets.Bytes(b"").tag(sync=True)
    before = traitlets.Bytes(b"").tag(sync=True)
    after = traitlets.Bytes(b"").tag(sync=True)
    caption = traitlets.Unicode("").tag(sync=True)
    classes = traitlets.List(traitlets.Unicode(), ["", "", ""]).tag(sync=True)
    alts = traitlets.List(traitlets.Unicode(), ["", "", ""]).tag(sync=True)
    sizes = traitlets.List(traitlets.List(traitlets.Int()), [[0, 0], [0, 0], [0, 0]]).tag(sync=True)
    controls = traitlets.Dict({"n": 0, "set": []}).tag(sync=True)

    def __init__(self, css_class: str, alt: str, *, before: tuple[str, str] = ("", ""), after=("", "")):
        super().__init__(
            classes=[before[0], css_class, after[0]],
            alts=[before[1], alt, after[1]],
            layout=widgets.Layout(margin="4px 0"),
        )

    def show(
        self,
        picture: np.ndarray,
        *,
        before: np.ndarray | None = None,
        after: np.ndarray | None = None,
        caption: str | None = None,
        controls: list | None = None,
        zoom: int = 1,
    ) -> None:
        """Show uint8 pictures (H, W) at their own pixel size (the main one ``zoom`` times larger, in whole screen
        pixels per picture pixel), ``caption`` (HTML) and the moves of the panel's ``controls`` ([[model id, trait,
        old, new], ...]) in one message."""
        zoom = check_positive_int(zoom, "zoom")
        sizes = [list(s) for s in self.sizes]
        with self.hold_sync():
            for k, (name, pic) in enumerate((("before", before), ("value", picture), ("after", after))):
                if pic is None:
                    continue
                times = zoom if name == "value" else 1
                sizes[k] = [int(pic.shape[1]) * times, int(pic.shape[0]) * times]
                setattr(self, name, to_png(pic))
            if sizes != self.sizes:
                self.sizes = sizes
            if caption is not None:
                self.caption = caption
            if controls:
                self.controls = {"n": self.controls["n"] + 1, "set": controls}


# The panel's own controls without ipywidgets' echo: the page already shows the value it sent, so the kernel's
# answer to a move is the picture alone. A value set from Python (a button, set_latent) still goes to the page.
class _QuietFloatSlider(widgets.FloatSlider):
    value = traitlets.CFloat(0.0, help="Float value").tag(sync=True, echo_update=False)


class _QuietIntSlider(widgets.IntSlider):
    value = traitlets.CInt(0, help="Int value").tag(sync=True, echo_update=False)


class DigitButtons(anywidget.AnyWidget):
    """The digit buttons 0-9 of a kernel-decoded panel in one widget (``static/digits.js``): ``value`` is the pressed
    digit. A press in the page is ONE request (ipywidgets' ToggleButtons sends two: a click event and the index),
    and the kernel does not echo the value back; the pressed digit is marked (``aria-pressed``). ``options`` lists
    the (text, digit) pairs, as ToggleButtons did; ``description`` is the label before the row, ``description_width``
    its width (a CSS length, as wide as the sliders' labels)."""

    _esm = PLAYGROUND_CSS.parent / "digits.js"
    value = traitlets.Int(0).tag(sync=True, echo_update=False)
    description = traitlets.Unicode("digit").tag(sync=True)
    description_width = traitlets.Unicode(_WIDE_LABEL["description_width"]).tag(sync=True)

    def __init__(self, value: int = 0, description: str = "digit"):
        super().__init__(value=value, description=description)
        self.add_class("cvae-digit-buttons")

    @traitlets.validate("value")
    def _valid_value(self, proposal):
        value = proposal["value"]
        if not 0 <= value < NUM_CLASSES:
            raise traitlets.TraitError(f"the digit buttons show the digits 0-9, got {value}")
        return value

    @property
    def options(self) -> list[tuple[str, int]]:
        """(text, digit) of each button, left to right."""
        return [(str(k), k) for k in range(NUM_CLASSES)]


def _digit_dropdown(description: str, value: int) -> widgets.Dropdown:
    return widgets.Dropdown(
        options=[(str(k), k) for k in range(NUM_CLASSES)],
        value=value,
        description=description,
        layout=widgets.Layout(width="13em"),
        style=_WIDE_LABEL,
    )


def _button(description: str, css_class: str, on_click) -> widgets.Button:
    button = widgets.Button(description=description, icon="random", layout=widgets.Layout(width="auto"))
    button.add_class(css_class)
    button.on_click(lambda _button: on_click())
    return button


class Generator(_Panel):
    """Digit buttons, latent sliders and a temperature slider over a grid of generated digits.

    The grid is a ``window`` x ``window`` neighbourhood of the slider code: the framed centre cell is the code
    itself, columns step along z[0] (left to right) and rows along z[1] (top row highest), ``step`` apart.
    Every cell is ``model.generate(digit, z=cell_code, temperature=t)``: the decoder sees ``t * z``, so a low
    temperature pulls every cell towards the digit's average style and a high one pushes it to the fringes.

    Args:
        model: a trained CVAE.
        window: cells per side of the grid (odd, so that the slider code sits in the centre).
        step: distance between neighbouring cells in latent units.
        scale: screen pixels per image pixel.
        seed: makes "new random style" repeatable.
    """

    def __init__(self, model: CVAE, *, window: int = 5, step: float = 0.5, scale: int = 3, seed: int = 0):
        super().__init__(model)
        self.window = check_positive_int(window, "window")
        if window % 2 == 0:
            raise ValueError(f"window must be odd so that one cell sits at the centre, got {window}; try {window + 1}")
        self.step = check_in_range(step, "step", 0.0, Z_LIMIT)
        self.scale = check_positive_int(scale, "scale")
        self._rng = np.random.default_rng(seed)
        self._rest = np.zeros(max(self.latent_dim - MAX_SLIDERS, 0), dtype=np.float32)
        self.digit = DigitButtons()
        self.sliders = [self._slider(f"z[{i}]", -Z_LIMIT, Z_LIMIT, 0.0, Z_STEP) for i in range(self.n_sliders)]
        self.temperature = self._slider("temperature", *TEMPERATURE_RANGE, 1.0, 0.05)
        self.new_style_button = _button("new random style", "cvae-new-style", self.new_style)
        self.image = Picture("cvae-generator-image", "generated digits around the code")
        for control in [self.digit, self.temperature, *self.sliders]:
            control.observe(self._changed, names="value")
        self.add_class("cvae-generator")
        self.add_class("cvae-panel")
        self.children = [
            style_sheet(),
            path_note("kernel"),
            self.digit,
            *self.sliders,
            widgets.HBox([self.temperature, self.new_style_button]),
            self.image,
        ]
        self._render()

    @staticmethod
    def _slider(description: str, low: float, high: float, value: float, step: float) -> widgets.FloatSlider:
        slider = _QuietFloatSlider(
            value=value,
            min=low,
            max=high,
            step=step,
            description=description,
            readout_format=".2f",
            continuous_update=True,
            style=_WIDE_LABEL,
            layout=widgets.Layout(width=SLIDER_WIDTH),
        )
        slider.add_class("cvae-slider-" + description.replace("[", "").replace("]", ""))
        return slider

    @property
    def n_sliders(self) -> int:
        """How many latent dimensions have a slider (the first ``MAX_SLIDERS``)."""
        return min(self.latent_dim, MAX_SLIDERS)

    # Python API -------------------------------------------------------------------------------
    def set_label(self, digit: int) -> None:
        """Show ``digit`` (0-9); the same as clicking its button."""
        self._set_control(self.digit, "value", check_digit(digit, "digit"))

    def set_latent(self, values: Sequence[float]) -> None:
        """Set the code: ``n_sliders`` values (one per slider) or all ``latent_dim`` values, each in [-3, 3]."""
        size = np.size(values)
        if size not in (self.n_sliders, self.latent_dim):
            raise ValueError(
                f"z must hold {self.n_sliders} values (one per slider) or {self.latent_dim} (the whole "
                f"code), got {size}: {values!r}"
            )
        z = check_code(values, size, "z", Z_LIMIT)
        with self.hold():
            for slider, v in zip(self.sliders, z):
                self._set_control(slider, "value", float(v))
            if size == self.latent_dim:
                self._rest = z[self.n_sliders :].copy()

    def set_temperature(self, temperature: float) -> None:
        """Set the temperature (0.1-2.0) that scales the code before decoding."""
        self._set_control(self.temperature, "value", check_in_range(temperature, "temperature", *TEMPERATURE_RANGE))

    def new_style(self) -> None:
        """Draw a new code from the prior N(0, I) (clipped to the slider range): the "new random style" button."""
        z = self.code
        while np.array_equal(z, self.code):  # snapping to the slider step can repeat a code; a press must not
            z = np.clip(self._rng.standard_normal(self.latent_dim), -Z_LIMIT, Z_LIMIT)
            z = (np.round(z / Z_STEP) * Z_STEP).astype(np.float32)
        self.set_latent(z)

    @property
    def label(self) -> int:
        return int(self.digit.value)

    @property
    def code(self) -> np.ndarray:
        """The full latent code (before temperature): slider values then the hidden dimensions."""
        return np.concatenate([[s.value for s in self.sliders], self._rest]).astype(np.float32)

    def cell_codes(self) -> np.ndarray:
        """The codes of the grid cells, row by row (before temperature); the centre one is :attr:`code`."""
        offsets = (np.arange(self.window) - (self.window - 1) / 2) * self.step
        codes = np.repeat(self.code[None], self.window ** min(self.latent_dim, 2), axis=0)
        if self.latent_dim == 1:
            codes[:, 0] += offsets
        else:
            codes[:, 0] += np.tile(offsets, self.window)
            codes[:, 1] += np.repeat(offsets[::-1], self.window)
        return codes

    def describe(self) -> str:
        """The current settings in one line."""
        z = ", ".join(f"{v:.2f}" for v in self.code)
        return f"digit {self.label}, z = [{z}], temperature {self.temperature.value:.2f}"

    def _render(self) -> None:
        codes = self.cell_codes()
        self.last_images = self._decode(codes * np.float32(self.temperature.value), one_hot([self.label] * len(codes)))
        centre = len(codes) // 2
        # the grid at one pixel per image pixel, shown `scale` times larger: on screen the same as tiling it at
        # `scale` (gaps and frame `scale` pixels wide), for a ninth of the PNG's pixels to encode, send and decode
        self.image.show(
            tile(self.last_images, self.window, scale=1, gap=1, highlight=centre),
            zoom=self.scale,
            caption=(
                f"<b>{self.label}</b> at the framed code; columns step z[0] by {self.step:g} to the "
                f"right{', rows step z[1] up' if self.latent_dim > 1 else ''}."
            ),
            controls=self._moved_controls(),
        )


class StyleTransfer(_Panel):
    """A real test digit, its reconstruction, and its style drawn as every digit 0-9.

    The style is the code ``model.encode(image, own_label)``; the ten digits are ``model.generate(range(10),
    z=style)``: only the label changes, so slant, thickness and width carry over.

    Args:
        model: a trained CVAE.
        images: real digits (N, 28, 28, 1) in [0, 1] to pick from, e.g. the test set.
        labels: their digits 0-9, shape (N,).
        scale: screen pixels per image pixel.
        seed: makes "random digit" repeatable.
    """

    def __init__(self, model: CVAE, images, labels, *, scale: int = 3, seed: int = 0):
        super().__init__(model)
        self.images, self.labels = as_images(images), as_labels(labels)
        if len(self.images) != len(self.labels) or not len(self.images):
            raise ValueError(
                f"images and labels must be non-empty and as long as each other, got "
                f"{len(self.images)} images and {len(self.labels)} labels"
            )
        self.scale = check_positive_int(scale, "scale")
        self._rng = np.random.default_rng(seed)
        self._transfer = _transfer_graph(model)
        self.index = _QuietIntSlider(
            value=0,
            min=0,
            max=len(self.images) - 1,
            description="test image",
            continuous_update=True,
            style=_WIDE_LABEL,
            layout=widgets.Layout(width=SLIDER_WIDTH),
        )
        self.index.add_class("cvae-slider-test-image")
        self.random_button = _button("random digit", "cvae-random-digit", self.random)
        self.image = Picture(
            "cvae-style-image",
            "the style drawn as every digit 0-9",
            before=("cvae-style-pair-image", "the test digit and its reconstruction"),
        )
        self.index.observe(self._changed, names="value")
        self.add_class("cvae-style-transfer")
        self.add_class("cvae-panel")
        self.children = [
            style_sheet(),
            path_note("kernel", "needs the encoder"),
            widgets.HBox([self.index, self.random_button]),
            self.image,
        ]
        self._render()

    def show(self, index: int) -> None:
        """Use test image number ``index``; the same as moving the "test image" slider."""
        self._set_control(self.index, "value", check_index(index, len(self.images), "index", "a test image number"))

    def random(self) -> None:
        """Pick a random test image: the "random digit" button."""
        self.show(int(self._rng.integers(len(self.images))))

    @property
    def original(self) -> np.ndarray:
        return self.images[self.index.value]

    @property
    def label(self) -> int:
        return int(self.labels[self.index.value])

    def _render(self) -> None:
        x, y = tf.constant(self.original[None], tf.float32), tf.constant(one_hot([self.label]), tf.float32)
        style, transfer = (t.numpy() for t in self._transfer(x, y))
        self.last_style = style[0]
        self.last_images = transfer
        self.last_reconstruction = transfer[self.label]
        self.image.show(
            tile(
                transfer,
                NUM_CLASSES,
                scale=self.scale,
                highlight=self.label,
                captions=[str(k) for k in range(NUM_CLASSES)],
            ),
            before=tile(
                np.stack([self.original, self.last_reconstruction]),
                2,
                scale=self.scale,
                captions=["original", "reconstructed"],
            ),
            caption=(
                f"Test image {self.index.value}, a <b>{self.label}</b>: the original and its "
                f"reconstruction, then the same style as 0-9 (its own digit framed)."
            ),
            controls=self._moved_controls(),
        )


class Interpolation(_Panel):
    """A slider "t" along the straight path from (digit a, style a) to (digit b, style b).

    At position t the decoder gets the code ``(1 - t) z_a + t z_b`` and the label ``(1 - t) onehot(a) +
    t onehot(b)``: with equal digits you morph one style into another, with equal styles ("same style")
    one digit into another, and in between the CVAE has to draw half a 3 and half an 8.

    Args:
        model: a trained CVAE.
        steps: pictures in the strip along the path.
        scale: screen pixels per image pixel.
        seed: makes the end styles (and "new styles") repeatable.
    """

    def __init__(self, model: CVAE, *, steps: int = 9, scale: int = 2, seed: int = 0):
        super().__init__(model)
        self.steps = check_positive_int(steps, "steps")
        self.scale = check_positive_int(scale, "scale")
        self._rng = np.random.default_rng(seed)
        self.start_digit = _digit_dropdown("from digit", 3)
        self.end_digit = _digit_dropdown("to digit", 8)
        self.same_style = widgets.Checkbox(value=False, description="same style at both ends", indent=False)
        self.new_styles_button = _button("new styles", "cvae-new-styles", self.new_styles)
        self.position = _QuietFloatSlider(
            value=0.5,
            min=0.0,
            max=1.0,
            step=0.01,
            description="t",
            readout_format=".2f",
            continuous_update=True,
            style=_WIDE_LABEL,
            layout=widgets.Layout(width=SLIDER_WIDTH),
        )
        self.position.add_class("cvae-slider-t")
        self.image = Picture(
            "cvae-interpolation-image",
            "the digit at t",
            after=("cvae-interpolation-path-image", "the path from start to end, marked at t"),
        )
        self.start_style, self.end_style = self._draw(), self._draw()
        for control in (self.start_digit, self.end_digit, self.same_style):
            control.observe(self._path_changed, names="value")
        self.position.observe(self._changed, names="value")
        self.add_class("cvae-interpolation")
        self.add_class("cvae-panel")
        self.children = [
            style_sheet(),
            path_note("kernel"),
            widgets.HBox([self.start_digit, self.end_digit, self.same_style, self.new_styles_button]),
            self.position,
            self.image,
        ]
        self._render_path()
        self._render()

    def _draw(self) -> np.ndarray:
        return np.clip(self._rng.standard_normal(self.latent_dim), -Z_LIMIT, Z_LIMIT).astype(np.float32)

    # Python API -------------------------------------------------------------------------------
    def set_position(self, t: float) -> None:
        """Move along the path: 0 is the start, 1 the end."""
        self._set_control(self.position, "value", check_in_range(t, "t", 0.0, 1.0))

    def set_labels(self, start: int, end: int) -> None:
        """The digits at the two ends of the path."""
        start, end = check_digit(start, "start"), check_digit(end, "end")
        with self.hold(self._render_path):
            self.start_digit.value, self.end_digit.value = start, end

    def set_styles(self, start: Sequence[float], end: Sequence[float]) -> None:
        """The codes at the two ends of the path (each value in [-3, 3])."""
        start = check_code(start, self.latent_dim, "start", Z_LIMIT)
        end = check_code(end, self.latent_dim, "end", Z_LIMIT)
        with self.hold(self._render_path):
            self.start_style, self.end_style = start, end

    def new_styles(self) -> None:
        """Draw two new end styles from the prior: the "new styles" button."""
        self.set_styles(self._draw(), self._draw())

    def point(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """(code, soft one-hot label) at position ``t`` of the path."""
        end_style = self.start_style if self.same_style.value else self.end_style
        z = (1 - t) * self.start_style + t * end_style
        y = blend_labels(self.start_digit.value, self.end_digit.value, t)[0]
        return z.astype(np.float32), y

    def _path_changed(self, _change=None) -> None:
        if not self._held:
            self._render_path()
            self._render()

    def _render_path(self) -> None:
        zs, ys = zip(*(self.point(t) for t in np.linspace(0.0, 1.0, self.steps)))
        self.path_images = self._decode(np.stack(zs), np.stack(ys))
        self._path_picture = tile(self.path_images, self.steps, scale=self.scale)

    def _render(self) -> None:
        t = float(self.position.value)
        z, y = self.point(t)
        self.last_images = self._decode(z[None], y[None])
        cell = 28 * self.scale + 3  # the strip's cells with their gaps (tile's default gap)
        self.image.show(
            tile(self.last_images, 1, scale=self.scale * 2, gap=0),
            after=with_marker(self._path_picture, 3 + cell * t * (self.steps - 1) + 28 * self.scale / 2),
            controls=self._moved_controls(),
        )


class Playground(widgets.VBox):
    """Every panel for one CVAE; ``set_label`` / ``set_latent`` / ``set_temperature`` drive the generator.

    The generator (with its latent map) and the interpolation path decode in the browser when the decoder is dense
    (:mod:`cvae_course.playground.browser`), in the kernel otherwise (a conv decoder); "draw a digit"
    (:mod:`cvae_course.playground.draw`) and style transfer need the encoder and run in the kernel. Each panel
    says on screen which path it uses.

    Args:
        model: a trained CVAE (:func:`cvae_course.recipes.load_cvae`).
        images: real digits for the style transfer and drawing panels (default: the test set of
            :func:`cvae_course.data.load_mnist`).
        labels: their digits 0-9.
        browser: decode the generator and the path in the browser (default: when the decoder can run there).
        seed: makes every random button repeatable.
    """

    def __init__(self, model: CVAE, images=None, labels=None, *, browser: bool | None = None, seed: int = 0):
        super().__init__()
        from cvae_course.playground import browser as in_browser
        from cvae_course.playground.draw import DrawDigit

        if images is None or labels is None:
            from cvae_course.data import load_mnist

            test = load_mnist()
            images, labels = test.x_test, test.y_test
        if browser is None:
            browser = in_browser.runs_in_browser(model)
        if browser:
            self.generator = in_browser.BrowserGenerator(model, seed=seed)
            self.interpolation = in_browser.BrowserInterpolation(model, seed=seed)
        else:
            self.generator = Generator(model, seed=seed)
            self.interpolation = Interpolation(model, seed=seed)
        self.draw = DrawDigit(model, images, labels, seed=seed)
        self.style_transfer = StyleTransfer(model, images, labels, seed=seed)
        self.children = [self.generator, self.draw, self.style_transfer, self.interpolation]

    def set_label(self, digit: int) -> None:
        self.generator.set_label(digit)

    def set_latent(self, values: Sequence[float]) -> None:
        self.generator.set_latent(values)

    def set_temperature(self, temperature: float) -> None:
        self.generator.set_temperature(temperature)
