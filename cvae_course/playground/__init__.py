"""The CVAE playground of lesson 04: steer a trained CVAE by hand.

* :class:`Playground`: the panels below for one CVAE, in one box (browser-decoded when the decoder is dense).
* :class:`BrowserGenerator`, :class:`BrowserInterpolation`: the generator (digit buttons, a latent map you click,
  drag or steer with the keys, z sliders, temperature) and the interpolation path, decoded in the page
  (:mod:`cvae_course.playground.browser`, an anywidget with ``static/decoder.js``).
* :class:`DrawDigit`: draw a digit; the CVAE reads its label by ELBO, its style and an anomaly score, and redraws
  it as all ten digits (:mod:`cvae_course.playground.draw`).
* :class:`LiveView`: a Keras callback that shows the latent space and generated digits while a CVAE trains
  (:mod:`cvae_course.playground.live`, lesson 03).
* :class:`Generator`: digit buttons, latent sliders and a temperature slider over a grid of generated digits.
* :class:`StyleTransfer`: a real test digit, its reconstruction, and its handwriting style drawn as 0-9.
* :class:`Interpolation`: a slider along the path between two (digit, style) end points.
* :func:`ink`, :func:`tile`, :func:`untile`, :func:`to_png`, :func:`png_to_array`: digit probabilities as the
  grey PNG pictures the panels show, and back (:mod:`cvae_course.playground.pictures`).

The kernel-decoded panels live in :mod:`cvae_course.playground.panels`; each panel says on screen whether its
pictures are computed in the browser or in the kernel. Get the course CVAE with
:func:`cvae_course.recipes.load_cvae`.
"""

from cvae_course.playground.browser import BrowserGenerator, BrowserInterpolation
from cvae_course.playground.draw import DrawDigit, mnist_like
from cvae_course.playground.live import LiveView
from cvae_course.playground.panels import (
    MAX_SLIDERS,
    TEMPERATURE_RANGE,
    Z_LIMIT,
    Z_STEP,
    Generator,
    Interpolation,
    Playground,
    StyleTransfer,
)
from cvae_course.playground.pictures import ink, png_to_array, tile, to_png, untile

__all__ = [
    "MAX_SLIDERS",
    "TEMPERATURE_RANGE",
    "Z_LIMIT",
    "Z_STEP",
    "BrowserGenerator",
    "BrowserInterpolation",
    "DrawDigit",
    "Generator",
    "Interpolation",
    "LiveView",
    "Playground",
    "StyleTransfer",
    "ink",
    "mnist_like",
    "png_to_array",
    "tile",
    "to_png",
    "untile",
]
