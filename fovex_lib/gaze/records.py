"""One stimulus with its human fixations: the record every gaze loader returns.

Coordinate convention (the library's pixel convention, 0-based): a fixation is
``(row, col)`` in **continuous pixel coordinates**, where the centre of pixel
``(i, j)`` is at ``(i, j)``; a fixation on the image lies in
``[-0.5, H - 0.5) x [-0.5, W - 0.5)``. The pixel it falls on is
``round(row), round(col)`` (:meth:`GazeRecord.fixation_pixels`). Data sets with
1-based MATLAB pixel coordinates (OSIE) are converted by subtracting 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..datasets.images import load_image

__all__ = ["GazeRecord", "GazeDataset", "fixations_inside"]


def fixations_inside(fixations: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Boolean (N,) mask: which (row, col) fixations fall on a pixel of an image of ``size`` (H, W)."""
    height, width = size
    rows, cols = fixations[:, 0], fixations[:, 1]
    return (rows >= -0.5) & (rows < height - 0.5) & (cols >= -0.5) & (cols < width - 0.5)


@dataclass
class GazeRecord:
    """A stimulus and the fixations people made on it.

    Attributes:
        image_id: the data set's name for the image (file name without extension).
        path: the stimulus file.
        size: (H, W) of the stimulus in pixels.
        fixations: (N, 2) float64 ``(row, col)`` in 0-based continuous pixel coordinates
            (module docstring), all observers pooled, in the data set's order.
        observer: (N,) int64 observer index of each fixation (0-based), or -1 where the
            data set does not say (MIT1003's fixation maps pool all observers).
        durations: (N,) float64 fixation durations in ms, NaN where unknown.
        num_observers: observers who viewed the image (0 if unknown).
        dropped: fixations dropped because they fell outside the image.
    """

    image_id: str
    path: Path
    size: tuple[int, int]
    fixations: np.ndarray
    observer: np.ndarray
    durations: np.ndarray
    num_observers: int = 0
    dropped: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def has_observers(self) -> bool:
        """True when every fixation carries its observer (needed for the inter-observer map)."""
        return self.num_observers > 0 and bool((self.observer >= 0).all())

    def fixation_pixels(self) -> np.ndarray:
        """(N, 2) int64 pixel indices ``(row, col)`` the fixations fall on (rounded, half away from 0)."""
        return np.floor(self.fixations + 0.5).astype(np.int64)

    def fixation_mask(self, observers=None) -> torch.Tensor:
        """(1, 1, H, W) bool map, True at every fixated pixel (the benchmark's binary fixation map).

        ``observers``: an int or a collection of observer indices to keep (default: all).
        Several fixations on one pixel mark it once, as in the MIT benchmark.
        """
        keep = np.ones(len(self.fixations), dtype=bool)
        if observers is not None:
            keep = np.isin(self.observer, np.atleast_1d(np.asarray(observers)))
        pixels = self.fixation_pixels()[keep]
        height, width = self.size
        outside = (pixels[:, 0] < 0) | (pixels[:, 0] >= height) | (pixels[:, 1] < 0) | (pixels[:, 1] >= width)
        if outside.any():  # negative indices would silently wrap around to the other edge
            first = self.fixations[keep][outside][0]
            raise ValueError(
                f"image {self.image_id}: {int(outside.sum())} fixation(s) lie outside the "
                f"{height}x{width} stimulus (first: row {first[0]:.1f}, col {first[1]:.1f}); "
                "drop them first, e.g. with fixations_inside(record.fixations, record.size)."
            )
        mask = torch.zeros(1, 1, *self.size, dtype=torch.bool)
        mask[0, 0, torch.from_numpy(pixels[:, 0]), torch.from_numpy(pixels[:, 1])] = True
        return mask

    def per_observer(self) -> list[np.ndarray]:
        """The fixations of each observer, a list of (N_o, 2) arrays in viewing order."""
        if not self.has_observers:
            raise ValueError(
                f"image {self.image_id}: the data set does not record which observer made "
                "which fixation (e.g. MIT1003's fixation maps); per-observer data are unavailable."
            )
        return [self.fixations[self.observer == o] for o in range(self.num_observers)]

    def load(self, size: int | None = None, crop: bool = True) -> torch.Tensor:
        """The stimulus as (1, 3, H, W) float32 in [0, 1]: original size by default, or
        ``size`` with :func:`fovex_lib.datasets.images.load_image`'s shorter-side resize + centre crop
        (``crop=True``) or the whole stimulus squashed to ``size x size`` (``crop=False``)."""
        image = load_image(self.path, size=size, crop=crop)
        if size is None and tuple(image.shape[-2:]) != tuple(self.size):
            raise ValueError(f"{self.path}: image is {tuple(image.shape[-2:])} but the record says {self.size}.")
        return image


class GazeDataset(list):
    """A list of :class:`GazeRecord` with the data set's ``name``, its ``root`` folder and
    ``missing``: image ids that have fixations but no stimulus file (left out)."""

    def __init__(self, records, name: str, root: Path, missing=()):
        super().__init__(records)
        self.name = name
        self.root = Path(root)
        self.missing = list(missing)

    def by_id(self, image_id: str) -> GazeRecord:
        for record in self:
            if record.image_id == str(image_id):
                return record
        raise KeyError(
            f"{self.name} has no image {image_id!r} here ({len(self)} images: {self[0].image_id if self else '-'}...)."
        )

    def __repr__(self) -> str:
        return (
            f"GazeDataset({self.name!r}, {len(self)} images, root={str(self.root)!r}"
            + (f", {len(self.missing)} without stimulus" if self.missing else "")
            + ")"
        )
