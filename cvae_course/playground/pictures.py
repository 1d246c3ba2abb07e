"""Pictures for the playground: digit probabilities as grey PNG pictures an ``ipywidgets.Image`` shows, and back.

NumPy and Pillow only (no TensorFlow): a picture is a uint8 greyscale array, dark ink (0) on white paper (255).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image as PILImage

from cvae_course.validation import check_positive_int

__all__ = ["HIGHLIGHT", "PNG_COMPRESSION", "ink", "png_to_array", "tile", "to_png", "untile"]

HIGHLIGHT = 96  # the dark grey frame around the cell that matches the controls exactly
PNG_COMPRESSION = 1  # fastest zlib level: digit pictures are small anyway


def ink(probabilities) -> np.ndarray:
    """Pixel probabilities in [0, 1] -> uint8 grey levels, dark ink on white paper (255 is blank)."""
    p = np.asarray(probabilities, dtype=np.float32)
    return np.round(255.0 * (1.0 - np.clip(p, 0.0, 1.0))).astype(np.uint8)


def tile(images, ncols: int, *, scale: int = 2, gap: int = 3, highlight: int | None = None) -> np.ndarray:
    """Images (N, 28, 28[, 1]) as one greyscale picture: ``ncols`` per row, each pixel ``scale`` x ``scale``,
    ``gap`` white pixels between cells and a dark frame around cell ``highlight``.

    Greyscale, not RGB: the PNG is three times smaller and encodes in ~2 ms instead of ~7 ms."""
    x = ink(np.asarray(images).reshape(-1, 28, 28))
    ncols = check_positive_int(ncols, "ncols")
    nrows = -(-len(x) // ncols)
    cell = 28 * scale
    picture = np.full((gap + nrows * (cell + gap), gap + ncols * (cell + gap)), 255, dtype=np.uint8)
    big = x.repeat(scale, axis=1).repeat(scale, axis=2)
    for i, image in enumerate(big):
        top, left = gap + (i // ncols) * (cell + gap), gap + (i % ncols) * (cell + gap)
        if i == highlight and gap:
            picture[top - gap : top + cell + gap, left - gap : left + cell + gap] = HIGHLIGHT
        picture[top : top + cell, left : left + cell] = image
    return picture


def untile(picture: np.ndarray, n: int, ncols: int, *, scale: int = 2, gap: int = 3) -> np.ndarray:
    """The inverse of :func:`tile`: the n cells of a picture as uint8 grey images (n, 28, 28)."""
    cell = 28 * scale
    grey = np.asarray(picture)
    cells = []
    for i in range(n):
        top, left = gap + (i // ncols) * (cell + gap), gap + (i % ncols) * (cell + gap)
        cells.append(grey[top : top + cell : scale, left : left + cell : scale])
    return np.stack(cells)


def to_png(picture: np.ndarray) -> bytes:
    """A uint8 picture as PNG bytes for ``ipywidgets.Image``."""
    buffer = io.BytesIO()
    PILImage.fromarray(picture).save(buffer, format="png", compress_level=PNG_COMPRESSION)
    return buffer.getvalue()


def png_to_array(png: bytes) -> np.ndarray:
    """Decode PNG bytes (e.g. an ``Image`` widget's ``value``) back to a uint8 greyscale array."""
    return np.asarray(PILImage.open(io.BytesIO(png)).convert("L"))
