"""The one result type of the metric functions, and the shape conventions it carries.

Every metric function returns a :class:`MetricResult` (or a subclass that adds the
metric's own per-image details):

============================  ==========================================  =====================
function                      ``values`` (N,) float64, per image           extra
============================  ==========================================  =====================
``drop_increase``             % drop (lower is better)                     :class:`DropIncrease`
``deletion`` / ``insertion``  area under the curve (deletion: lower,       :class:`Curves`
                              insertion: higher is better)
``energy_pointing_game``      % of the map's energy inside the region      (none)
                              (higher is better; NaN for an all-zero map)
============================  ==========================================  =====================

Conventions: every tensor is on the CPU; per-image tensors have shape ``(N,)`` for the
``N`` images of the call; curves have shape ``(N, K + 1)`` with their ``(K + 1,)``
abscissae in ``fractions``. ``result.mean()`` is the number a table reports. Results
compare by identity (``eq=False``): compare their tensors, e.g. ``torch.equal(a.values, b.values)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["MetricResult"]


@dataclass(kw_only=True, eq=False)
class MetricResult:
    """Per-image values of one metric on N images (plus curves where the metric has them).

    Attributes:
        metric: the function that computed it: ``"drop_increase"``, ``"deletion"``,
            ``"insertion"`` or ``"energy_pointing_game"``.
        values: (N,) float64 CPU tensor, one value per image: the value a table averages.
        higher_is_better: the direction of ``values``.
        targets: (N,) long CPU tensor of the explained classes; None for a metric that
            uses no model (the pointing game).
        substrate: what hidden pixels became (its name, ``"tensor"`` for a given tensor);
            None for a metric that hides nothing (the pointing game).
        curves: (N, K + 1) float64 CPU tensor of the target's probability along a curve
            (deletion, insertion), else None.
        fractions: (K + 1,) float64 abscissae of ``curves`` (from 0 to 1), else None.
    """

    metric: str
    values: torch.Tensor
    higher_is_better: bool
    targets: torch.Tensor | None = None
    substrate: str | None = None
    curves: torch.Tensor | None = None
    fractions: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def mean(self) -> float:
        """Mean of ``values`` over the images where it is defined (NaN values left out; NaN if none is)."""
        defined = self.values[~torch.isnan(self.values)]
        return float(defined.mean()) if defined.numel() else float("nan")
