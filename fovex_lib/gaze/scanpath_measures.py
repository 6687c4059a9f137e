"""Scanpath similarity: compare an explanation's ordered fixations with a human observer's scanpath.

A **scanpath** is a numpy array of shape ``(N, 2)``: one ``(row, col)`` fixation per row, in
order, in the library's 0-based continuous pixel coordinates (the centre of pixel ``(i, j)`` is
at ``(i, j)``; a fixation on an image of ``size = (H, W)`` lies in
``[-0.5, H - 0.5) x [-0.5, W - 0.5)``, see :mod:`fovex_lib.gaze.records`). A human scanpath
may carry a third column, the fixation **duration in milliseconds** (shape ``(N, 3)``); an
explanation method's fixations have none.

The measures differ in what they reward: *where* the fixations land, *in which order*, or both.

* :func:`mean_nearest_distance` - **where only.** The paths are treated as sets of points: the
  mean distance (pixels) from each fixation to the nearest fixation of the other path, averaged
  over both directions. Any reordering of either path gives the same value. 0 is best.
* :func:`edit_similarity` - **where and order, all-or-nothing places.** Each fixation becomes the
  grid cell it falls in (:func:`grid_string`); the score is 1 minus the Levenshtein distance
  between the two cell sequences over the longer length. A fixation one cell away counts as
  wrong as one across the image. 1 is best.
* :func:`scanmatch` - **where and order, graded places** (Cristino et al. 2010). The same cell
  sequences are aligned with Needleman-Wunsch; substituting one cell for another costs according
  to the distance between the cells, so near misses earn partial credit. 1 is best.
* :func:`multimatch` - **the shape of the path** (Jarodzka et al. 2010; Dewhurst et al. 2012).
  The saccades (vectors between consecutive fixations) of the two paths are aligned by their
  shape, then compared on five dimensions: vector (shape), direction, length, position of the
  saccade start points, and fixation duration. Two paths with the same moves in different
  places score high on vector, direction and length and lower only on position. 1 is best.

:func:`compare` returns all of them for one pair. Cost (these are called about a million times
in a full run, for paths of at most 10 fixations): :func:`multimatch` dominates, 0.5-1 ms a
pair, spent in the ``multimatch-gaze`` package (a shortest path through a sparse graph with
SciPy); the other measures are plain Python on the short paths, a few tens of microseconds.
"""

from __future__ import annotations

import math
from typing import Any

import multimatch_gaze
import numpy as np

__all__ = [
    "MULTIMATCH_KEYS",
    "SCANMATCH_THRESHOLD",
    "multimatch",
    "scanmatch",
    "scanmatch_alignment",
    "grid_string",
    "edit_similarity",
    "mean_nearest_distance",
    "compare",
]

#: The five MultiMatch dimensions, in the order :func:`multimatch_gaze.docomparison` returns them.
MULTIMATCH_KEYS = ("vector", "direction", "length", "position", "duration")

#: Default ScanMatch substitution threshold, in grid cells: the ScanMatch toolbox's own default
#: (``ScanMatch_Struct.m``: ``Threshold = 3.5`` with its default 12 x 8 grid).
SCANMATCH_THRESHOLD = 3.5

#: Record layout :func:`multimatch_gaze.docomparison` reads (x = column, y = row, duration in s).
_MULTIMATCH_DTYPE = np.dtype([("start_x", np.float64), ("start_y", np.float64), ("duration", np.float64)])


# --------------------------------------------------------------------------- input checks


def _scanpath(path: Any, name: str) -> np.ndarray:
    """``path`` as a float64 (N, 2) or (N, 3) array, after checking it (module docstring)."""
    try:
        array = np.asarray(path)
    except (TypeError, ValueError) as err:  # ragged lists, objects numpy cannot read
        raise TypeError(
            f"{name} must be a numpy array of shape (N, 2) (row, col) or (N, 3) (row, col, duration in ms); "
            f"could not read {type(path).__name__} as one ({err})."
        ) from err
    if array.dtype.kind not in "iuf":
        raise TypeError(
            f"{name} must hold real numbers (pixel coordinates, durations in ms), got dtype {array.dtype}. "
            "Build it with np.asarray(fixations, dtype=float)."
        )
    if array.ndim != 2 or array.shape[1] not in (2, 3):
        hint = ""
        if array.ndim == 1 and array.shape[0] in (2, 3):
            hint = " For a single fixation use path.reshape(1, -1)."
        elif array.ndim == 2 and array.shape[0] in (2, 3):
            hint = " Fixations are rows: did you mean path.T?"
        raise ValueError(
            f"{name} must have shape (N, 2) (row, col) or (N, 3) (row, col, duration in ms), got {array.shape}.{hint}"
        )
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty (no fixations); every scanpath needs at least one fixation.")
    array = array.astype(np.float64, copy=False)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values; drop those fixations first.")
    if array.shape[1] == 3 and not (array[:, 2] > 0).all():
        raise ValueError(
            f"{name}: fixation durations (third column, ms) must be positive, got minimum {array[:, 2].min():g}. "
            "Pass only (row, col) columns, path[:, :2], when durations are unknown."
        )
    return array


def _two_positive_ints(value: Any, name: str, meaning: str, example: str) -> tuple[int, int]:
    """``value`` as a pair of positive ints, e.g. size = (H, W) or grid = (rows, cols)."""
    try:
        items = tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be two positive ints {meaning}, e.g. {example}; got {value!r}.") from None
    if len(items) != 2:
        raise ValueError(f"{name} must be two positive ints {meaning}, e.g. {example}; got {len(items)} values.")
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int | np.integer):
            raise TypeError(
                f"{name} must be two positive ints {meaning}, e.g. {example}; got {value!r} "
                f"({type(item).__name__} {item!r} is not an int)."
            )
        if item < 1:
            raise ValueError(f"{name} must be two positive ints {meaning}, e.g. {example}; got {value!r}.")
    return int(items[0]), int(items[1])


def _size(size: Any) -> tuple[int, int]:
    return _two_positive_ints(size, "size", "(H, W), the stimulus height and width in pixels", "(600, 800)")


def _grid(grid: Any) -> tuple[int, int]:
    return _two_positive_ints(grid, "grid", "(rows, cols), the number of grid cells down and across", "(8, 12)")


def _real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}.")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}.")
    return float(value)


# --------------------------------------------------------------------------- MultiMatch


def _fixation_vector(path: np.ndarray, use_durations: bool) -> np.ndarray:
    """The record array :func:`multimatch_gaze.docomparison` takes: col -> start_x, row -> start_y."""
    record = np.empty(path.shape[0], dtype=_MULTIMATCH_DTYPE)
    record["start_x"] = path[:, 1]
    record["start_y"] = path[:, 0]
    # The package documents durations in seconds; the duration dimension is a ratio, so the unit
    # changes no result here (no grouping), but we keep to the package's convention.
    record["duration"] = path[:, 2] / 1000.0 if use_durations else 1.0
    return record


def _multimatch(p: np.ndarray, q: np.ndarray, height: int, width: int) -> dict[str, float]:
    use_durations = p.shape[1] == 3 and q.shape[1] == 3
    values = multimatch_gaze.docomparison(
        _fixation_vector(p, use_durations), _fixation_vector(q, use_durations), [width, height], grouping=False
    )
    result = {key: float(value) for key, value in zip(MULTIMATCH_KEYS, values)}
    if not use_durations:
        result["duration"] = math.nan
    return result


def multimatch(p: Any, q: Any, size: Any) -> dict[str, float]:
    """MultiMatch similarity of two scanpaths on five dimensions, each in [0, 1] (1 = identical).

    Source: Jarodzka, Holmqvist & Nyström (2010), "A vector-based, multidimensional scanpath
    similarity measure", ETRA '10, 211-218; Dewhurst et al. (2012), "It depends on how you look
    at it: scanpath comparison in multiple dimensions with MultiMatch", Behav Res Methods 44,
    1079-1100. Computed by the maintained Python port ``multimatch-gaze`` (Wagner et al. 2019,
    JOSS 4(40):1525; :func:`multimatch_gaze.docomparison`), not re-implemented here.

    The saccades of ``p`` and ``q`` (vectors between consecutive fixations) are aligned by the
    shortest path through the matrix of their vector differences; along that alignment the
    package takes medians of the pairwise differences and normalises them:

    * ``"vector"``: 1 - |u - v| / (2 * diagonal) - the shape of the saccades;
    * ``"direction"``: 1 - angle(u, v) / pi;
    * ``"length"``: 1 - ||u| - |v|| / diagonal;
    * ``"position"``: 1 - distance between the saccades' start fixations / diagonal;
    * ``"duration"``: 1 - |d_p - d_q| / max(d_p, d_q), durations of the saccades' start
      fixations (the package's rule: the last fixation's duration is never compared).

    ``diagonal`` is the stimulus diagonal ``sqrt(H^2 + W^2)`` (1000 px for OSIE's 800 x 600).

    Where we differ from, or fix choices left open by, the source:

    * **No simplification.** ``grouping=False``: saccades are not merged by amplitude or
      direction thresholds (the method's optional first step), so the measure works on the
      fixations exactly as given, model and human alike.
    * **Durations.** Used only when *both* paths carry them (shape (N, 3), ms). Otherwise the
      package gets constant durations and ``"duration"`` is returned as NaN (a model scanpath
      has no durations, so that dimension is undefined, not perfect).
    * **Short paths.** With fewer than 3 fixations in either path the package returns NaN for
      all five dimensions (MultiMatch needs at least two saccades); we keep that.
    * **Coordinates.** ``col`` is passed as the package's ``start_x`` and ``row`` as ``start_y``;
      the screen size as ``[W, H]`` (x first). Fixations outside the stimulus are allowed (the
      package does not need them inside).

    Args:
        p: first scanpath, (N, 2) ``(row, col)`` or (N, 3) ``(row, col, duration_ms)``.
        q: second scanpath, same format.
        size: ``(H, W)`` of the stimulus in pixels (sets the normalising diagonal).

    Returns:
        ``{"vector", "direction", "length", "position", "duration"}`` -> float in [0, 1] or NaN.
    """
    height, width = _size(size)
    return _multimatch(_scanpath(p, "p"), _scanpath(q, "q"), height, width)


# --------------------------------------------------------------------------- grid strings


def _cells(path: np.ndarray, name: str, height: int, width: int, rows: int, cols: int) -> list[tuple[int, int]]:
    """(grid row, grid col) of each fixation; the grid splits [-0.5, H-0.5) x [-0.5, W-0.5) evenly."""
    cells = []
    for k, (row, col) in enumerate(path[:, :2].tolist()):
        if not (-0.5 <= row < height - 0.5 and -0.5 <= col < width - 0.5):
            raise ValueError(
                f"{name}: fixation {k} at (row, col) = ({row:g}, {col:g}) lies outside the {height} x {width} "
                f"stimulus [-0.5, {height - 0.5:g}) x [-0.5, {width - 0.5:g}); it has no grid cell. Drop it first "
                "(see fovex_lib.gaze.records.fixations_inside)."
            )
        # floor of a non-negative number; min() guards against rounding up to the edge itself
        cells.append((min(int((row + 0.5) * rows / height), rows - 1), min(int((col + 0.5) * cols / width), cols - 1)))
    return cells


def grid_string(p: Any, size: Any, grid: Any = (8, 12)) -> list[int]:
    """The grid cell ("letter") of each fixation of ``p``, in order.

    Source: the region-of-interest grid of ScanMatch (Cristino, Mathôt, Theeuwes & Gilchrist
    2010, Behav Res Methods 42:692-700; toolbox ``ScanMatch_GridMask.m``), shared here by
    :func:`scanmatch` and :func:`edit_similarity`.

    The stimulus ``[-0.5, H - 0.5) x [-0.5, W - 0.5)`` is split into ``rows x cols`` equal
    cells; a fixation at ``(row, col)`` falls in grid row ``floor((row + 0.5) / H * rows)`` and
    grid column ``floor((col + 0.5) / W * cols)`` (clipped to the last cell against rounding).
    Its letter is ``grid_row * cols + grid_col``, numbered row by row from 0 at the top left
    (the toolbox numbers the same way from 1).

    Where we differ from the toolbox (``ScanMatch_FixationToSequence.m``, ``ScanMatch_GridMask.m``):
    it rounds a fixation to its pixel ``j`` (0-based here) and puts that pixel in cell
    ``floor(j * bins / res)``. Where the cell size in pixels is whole (OSIE's rows: 600 / 8 = 75)
    that is exactly our rule; otherwise (OSIE's columns: 800 / 12 = 66.7) a cell edge moves by
    less than one pixel. The toolbox also moves fixations outside the screen onto its border
    silently, where we raise a ``ValueError``. Durations, if given, are ignored.

    Args:
        p: scanpath, (N, 2) ``(row, col)`` or (N, 3) with durations (ignored).
        size: ``(H, W)`` of the stimulus in pixels.
        grid: ``(rows, cols)`` cells down and across; default ``(8, 12)``, the toolbox's
            default 12 x 8 (x by y) grid.

    Returns:
        A list of N ints in ``[0, rows * cols)``.
    """
    height, width = _size(size)
    rows, cols = _grid(grid)
    return [r * cols + c for r, c in _cells(_scanpath(p, "p"), "p", height, width, rows, cols)]


# --------------------------------------------------------------------------- ScanMatch


def _needleman_wunsch(a: list[tuple[int, int]], b: list[tuple[int, int]], threshold: float, gap: float) -> float:
    """Best global alignment score of two cell sequences (substitution ``threshold - distance``)."""
    # previous[j] = best score of aligning a[:i - 1] with b[:j]; the first row aligns b[:j] with gaps only
    previous = [j * gap for j in range(len(b) + 1)]
    for i, (row_a, col_a) in enumerate(a, start=1):
        current = [i * gap]
        for j, (row_b, col_b) in enumerate(b, start=1):
            substitute = previous[j - 1] + threshold - math.hypot(row_a - row_b, col_a - col_b)
            current.append(max(substitute, previous[j] + gap, current[j - 1] + gap))
        previous = current
    return previous[-1]


def _scanmatch(a: list[tuple[int, int]], b: list[tuple[int, int]], threshold: float, gap: float) -> float:
    return _needleman_wunsch(a, b, threshold, gap) / (threshold * max(len(a), len(b)))


def _threshold(threshold: Any) -> float:
    if threshold is None:
        return SCANMATCH_THRESHOLD
    value = _real(threshold, "threshold")
    if value <= 0:
        raise ValueError(
            f"threshold must be positive (grid cells; it is the best substitution score and the score is "
            f"divided by it), got {value!r}. The toolbox default is {SCANMATCH_THRESHOLD}."
        )
    return value


def _scanmatch_inputs(p: Any, q: Any, size: Any, grid: Any, gap: Any, threshold: Any):
    """Checked ScanMatch inputs: (cells of p, cells of q, grid columns, gap, threshold in cells)."""
    height, width = _size(size)
    rows, cols = _grid(grid)
    a = _cells(_scanpath(p, "p"), "p", height, width, rows, cols)
    b = _cells(_scanpath(q, "q"), "q", height, width, rows, cols)
    return a, b, cols, _real(gap, "gap"), _threshold(threshold)


def scanmatch(
    p: Any, q: Any, size: Any, grid: Any = (8, 12), gap: float = 0.0, threshold: float | None = None
) -> float:
    """ScanMatch similarity of two scanpaths: 1 for identical cell sequences, lower otherwise.

    Source: Cristino, Mathôt, Theeuwes & Gilchrist (2010), "ScanMatch: A novel method for
    comparing fixation sequences", Behav Res Methods 42:692-700, and its MATLAB toolbox
    (``ScanMatch.m``, ``ScanMatch_CreateSubMatrix.m``, ``ScanMatch_nwAlgo.m``), which this
    follows:

    1. Each fixation becomes its grid cell (:func:`grid_string`).
    2. Substitution matrix (``ScanMatch_CreateSubMatrix``): with ``d`` the Euclidean distance
       between two cells in cell units (grid row and column indices, whatever the cells' pixel
       aspect ratio) and ``d_max`` the largest such distance, the toolbox sets
       ``|d - d_max| - (d_max - threshold)``, which is ``threshold - d``: ``threshold`` for the
       same cell, positive for cells closer than ``threshold``, negative beyond.
    3. Needleman-Wunsch global alignment (``ScanMatch_nwAlgo``) with the constant ``gap`` added
       for every fixation aligned to a gap (first row and column ``gap * k``).
    4. Normalisation (``ScanMatch.m``): ``score / (max(substitution matrix) * max(len(p), len(q)))``
       = ``score / (threshold * max(len(p), len(q)))``.

    Where we differ from the toolbox: no temporal binning (its ``TempBin = 0``, also its
    default): each fixation is one letter whatever its duration, so durations are ignored;
    the cell of a fixation follows :func:`grid_string` (fixations outside the stimulus raise a
    ``ValueError``); and the grid is not limited to the toolbox's 26 x 26 letters.

    Args:
        p: first scanpath, (N, 2) ``(row, col)`` or (N, 3) with durations (ignored).
        q: second scanpath, same format.
        size: ``(H, W)`` of the stimulus in pixels.
        grid: ``(rows, cols)`` grid cells; default ``(8, 12)``, the toolbox default.
        gap: value added to the score for each gap (the toolbox's ``GapValue``; default 0, the
            toolbox default). Negative values penalise gaps; positive values would reward them.
        threshold: substitution threshold in grid cells (> 0); ``None`` (default) is the
            toolbox default :data:`SCANMATCH_THRESHOLD` = 3.5. The toolbox suggests
            ``2 * std(saccade amplitude in px) / (W / cols)`` for a data set.

    Returns:
        The normalised alignment score: 1 for identical sequences, at least ``0`` when
        ``gap = 0`` (aligning everything to gaps scores 0), can be negative with ``gap < 0``.
    """
    a, b, cols, gap, threshold_cells = _scanmatch_inputs(p, q, size, grid, gap, threshold)
    return _scanmatch(a, b, threshold_cells, gap)


def scanmatch_alignment(
    p: Any, q: Any, size: Any, grid: Any = (8, 12), gap: float = 0.0, threshold: float | None = None
) -> dict:
    """The Needleman-Wunsch alignment behind :func:`scanmatch`, for teaching and figures.

    Same arguments and conventions as :func:`scanmatch`. Returns a dict with ``"pairs"``: the
    aligned letters (:func:`grid_string` cells) in order, ``(cell of p, cell of q)``, with None
    for a gap; ``"score"``: the raw alignment score (the sum of the substitution scores of the
    aligned pairs plus ``gap`` per gap); and ``"scanmatch"``: the normalised score, equal to
    :func:`scanmatch`. Where several alignments reach the best score, the traceback prefers a
    substitution, then a gap in ``q``, then a gap in ``p``.
    """
    a, b, cols, gap, threshold_cells = _scanmatch_inputs(p, q, size, grid, gap, threshold)

    def substitution(i: int, j: int) -> float:
        return threshold_cells - math.hypot(a[i][0] - b[j][0], a[i][1] - b[j][1])

    table = [[0.0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        table[i][0] = i * gap
    for j in range(len(b) + 1):
        table[0][j] = j * gap
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            table[i][j] = max(
                table[i - 1][j - 1] + substitution(i - 1, j - 1), table[i - 1][j] + gap, table[i][j - 1] + gap
            )
    pairs: list[tuple[int | None, int | None]] = []
    i, j = len(a), len(b)
    while i > 0 or j > 0:
        if i > 0 and j > 0 and table[i][j] == table[i - 1][j - 1] + substitution(i - 1, j - 1):
            pairs.append((a[i - 1][0] * cols + a[i - 1][1], b[j - 1][0] * cols + b[j - 1][1]))
            i, j = i - 1, j - 1
        elif i > 0 and table[i][j] == table[i - 1][j] + gap:
            pairs.append((a[i - 1][0] * cols + a[i - 1][1], None))
            i -= 1
        else:
            pairs.append((None, b[j - 1][0] * cols + b[j - 1][1]))
            j -= 1
    score = table[len(a)][len(b)]
    return {
        "pairs": pairs[::-1],
        "score": score,
        "scanmatch": score / (threshold_cells * max(len(a), len(b))),
    }


# --------------------------------------------------------------------------- edit similarity


def _levenshtein(a: list[Any], b: list[Any]) -> int:
    """Levenshtein distance: fewest insertions, deletions and substitutions turning ``a`` into ``b``."""
    previous = list(range(len(b) + 1))
    for i, letter_a in enumerate(a, start=1):
        current = [i]
        for j, letter_b in enumerate(b, start=1):
            current.append(min(previous[j - 1] + (letter_a != letter_b), previous[j] + 1, current[j - 1] + 1))
        previous = current
    return previous[-1]


def _edit_similarity(a: list[Any], b: list[Any]) -> float:
    return 1.0 - _levenshtein(a, b) / max(len(a), len(b))


def edit_similarity(p: Any, q: Any, size: Any, grid: Any = (8, 12)) -> float:
    """String-edit similarity of two scanpaths: ``1 - Levenshtein(cells p, cells q) / max(len)``.

    Source: the string-edit comparison of scanpaths: Levenshtein (1966), "Binary codes capable of
    correcting deletions, insertions, and reversals", Soviet Physics Doklady 10:707-710, applied to
    fixation sequences coded as regions of a grid by Brandt & Stark (1997), J Cogn Neurosci
    9:27-38, and to saliency-model versus human scanpaths by Foulsham & Underwood (2008), Journal
    of Vision 8(2):6. The division by the longer sequence (which puts the score in [0, 1]) is our
    stated choice; papers differ in this detail.

    Each fixation becomes its grid cell (:func:`grid_string`); insertions, deletions and
    substitutions all cost 1, so a fixation in a neighbouring cell counts as fully wrong (compare
    :func:`scanmatch`, which gives near misses partial credit). Durations are ignored.

    Args:
        p: first scanpath, (N, 2) ``(row, col)`` or (N, 3) with durations (ignored).
        q: second scanpath, same format.
        size: ``(H, W)`` of the stimulus in pixels.
        grid: ``(rows, cols)`` grid cells; default ``(8, 12)`` as :func:`scanmatch`.

    Returns:
        A float in [0, 1]; 1 for identical cell sequences.
    """
    height, width = _size(size)
    rows, cols = _grid(grid)
    a = _cells(_scanpath(p, "p"), "p", height, width, rows, cols)
    b = _cells(_scanpath(q, "q"), "q", height, width, rows, cols)
    return _edit_similarity(a, b)


# --------------------------------------------------------------------------- order-free distance


def _mean_nearest_distance(p: np.ndarray, q: np.ndarray) -> float:
    difference = p[:, None, :2] - q[None, :, :2]
    distance = np.hypot(difference[..., 0], difference[..., 1])  # (len(p), len(q))
    return 0.5 * (float(distance.min(axis=1).mean()) + float(distance.min(axis=0).mean()))


def mean_nearest_distance(p: Any, q: Any) -> float:
    """Order-free distance in pixels between two scanpaths (0 when they visit the same points).

    The mean over the fixations of ``p`` of the Euclidean distance to the nearest fixation of
    ``q``, and the same from ``q`` to ``p``; the two means are averaged, so the result is
    symmetric. The order of the fixations plays no part (it measures *where*, not *when*).

    Source: the directed mean closest-point distance ``d(A, B) = mean_a min_b |a - b|`` of
    Dubuisson & Jain (1994), "A modified Hausdorff distance for object matching", ICPR, 566-568.
    Where we differ: their modified Hausdorff distance takes ``max(d(p, q), d(q, p))``; we take the
    mean of the two, so that both paths count equally and the value stays an average distance in
    pixels. Durations, if given, are ignored; no size is needed (no normalisation).

    Args:
        p: first scanpath, (N, 2) ``(row, col)`` or (N, 3) with durations (ignored).
        q: second scanpath, same format.

    Returns:
        The distance in pixels, >= 0.
    """
    return _mean_nearest_distance(_scanpath(p, "p"), _scanpath(q, "q"))


# --------------------------------------------------------------------------- all at once


def compare(p: Any, q: Any, size: Any, grid: Any = (8, 12)) -> dict[str, float]:
    """All measures of this module for one pair of scanpaths, checking the inputs once.

    Args:
        p: first scanpath, (N, 2) ``(row, col)`` or (N, 3) ``(row, col, duration_ms)``.
        q: second scanpath, same format.
        size: ``(H, W)`` of the stimulus in pixels.
        grid: ``(rows, cols)`` grid for :func:`scanmatch` and :func:`edit_similarity`.

    Returns:
        ``"mm_vector"``, ``"mm_direction"``, ``"mm_length"``, ``"mm_position"``, ``"mm_duration"``
        (:func:`multimatch`), ``"scanmatch"`` (:func:`scanmatch` with the toolbox defaults
        ``gap = 0``, ``threshold = 3.5``), ``"edit"`` (:func:`edit_similarity`) and
        ``"nearest_px"`` (:func:`mean_nearest_distance`).
    """
    height, width = _size(size)
    rows, cols = _grid(grid)
    p_path, q_path = _scanpath(p, "p"), _scanpath(q, "q")
    a = _cells(p_path, "p", height, width, rows, cols)
    b = _cells(q_path, "q", height, width, rows, cols)
    result = {f"mm_{key}": value for key, value in _multimatch(p_path, q_path, height, width).items()}
    result["scanmatch"] = _scanmatch(a, b, SCANMATCH_THRESHOLD, 0.0)
    result["edit"] = _edit_similarity(a, b)
    result["nearest_px"] = _mean_nearest_distance(p_path, q_path)
    return result
