"""The CVAE playground of lesson 04: steer a trained CVAE by hand.

* :class:`Playground`: the three panels below for one CVAE, in one box.
* :class:`Generator`: digit buttons, latent sliders and a temperature slider over a grid of generated digits.
* :class:`StyleTransfer`: a real test digit, its reconstruction, and its handwriting style drawn as 0-9.
* :class:`Interpolation`: a slider along the path between two (digit, style) end points.
* :func:`ink`, :func:`tile`, :func:`untile`, :func:`to_png`, :func:`png_to_array`: digit probabilities as the
  grey PNG pictures the panels show, and back (:mod:`cvae_course.playground.pictures`).

The panels live in :mod:`cvae_course.playground.panels`. Get the course CVAE with
:func:`cvae_course.recipes.load_cvae`.
"""

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
    "MAX_SLIDERS", "TEMPERATURE_RANGE", "Z_LIMIT", "Z_STEP", "Generator", "Interpolation", "Playground",
    "StyleTransfer", "ink", "png_to_array", "tile", "to_png", "untile",
]
