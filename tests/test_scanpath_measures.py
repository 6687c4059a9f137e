"""Scanpath similarity measures: hand-worked cases, invariances, and agreement with small
independent references written here from the sources' definitions (a shortest-path MultiMatch,
ScanMatch by enumerating every alignment with the toolbox's substitution matrix, a recursive
Levenshtein, grid cells from np.digitize).

The MultiMatch values published with ``multimatch-gaze`` (its comparison with the MATLAB
toolbox) cannot be reproduced here: the package does not ship its test data.
"""

import functools
import itertools
import math

import multimatch_gaze
import numpy as np
import pytest

from fovex_lib.gaze import scanpath_measures as sm
from fovex_lib.gaze.scanpath_measures import (
    SCANMATCH_THRESHOLD,
    compare,
    edit_similarity,
    grid_string,
    mean_nearest_distance,
    multimatch,
    scanmatch,
    scanmatch_alignment,
)

SIZE = (600, 800)  # OSIE stimuli: H = 600, W = 800; diagonal 1000 px
DIAGONAL = 1000.0
GRID = (8, 12)  # cells of 75 x 66.67 px


def random_path(rng, n, size=SIZE, durations=False):
    """n fixations uniformly on the stimulus [-0.5, H - 0.5) x [-0.5, W - 0.5), optionally with durations (ms)."""
    height, width = size
    path = np.column_stack([rng.uniform(-0.5, height - 0.5, n), rng.uniform(-0.5, width - 0.5, n)])
    if durations:
        path = np.column_stack([path, rng.uniform(80, 600, n)])
    return path


# --------------------------------------------------------------------------- MultiMatch


def reference_multimatch(p, q, size):
    """MultiMatch without simplification, written from Jarodzka et al. (2010) / Dewhurst et al. (2012)
    and the normalisation of multimatch-gaze: saccades aligned by the cheapest monotone path
    (steps right, down, diagonal; entering a cell costs its vector difference), then medians."""
    diagonal = math.hypot(*size)
    u = np.diff(p[:, [1, 0]], axis=0)  # saccades as (x, y) = (col, row)
    v = np.diff(q[:, [1, 0]], axis=0)
    cost = np.linalg.norm(u[:, None, :] - v[None, :, :], axis=2)
    n, m = cost.shape
    best = {(0, 0): 0.0}
    came_from = {}
    for i, j in itertools.product(range(n), range(m)):
        if (i, j) == (0, 0):
            continue
        options = [(best[a, b], (a, b)) for a, b in ((i - 1, j), (i, j - 1), (i - 1, j - 1)) if a >= 0 and b >= 0]
        value, previous = min(options)
        best[i, j] = value + cost[i, j]
        came_from[i, j] = previous
    pairs = [(n - 1, m - 1)]
    while pairs[-1] != (0, 0):
        pairs.append(came_from[pairs[-1]])
    i, j = np.array(pairs[::-1]).T
    angle = np.abs(np.arctan2(u[i, 1], u[i, 0]) - np.arctan2(v[j, 1], v[j, 0])) % (2 * math.pi)
    result = {
        "vector": 1 - np.median(np.linalg.norm(u[i] - v[j], axis=1)) / (2 * diagonal),
        "direction": 1 - np.median(np.minimum(angle, 2 * math.pi - angle)) / math.pi,
        "length": 1 - np.median(np.abs(np.linalg.norm(u[i], axis=1) - np.linalg.norm(v[j], axis=1))) / diagonal,
        # saccade k starts at fixation k
        "position": 1 - np.median(np.linalg.norm(p[i, :2] - q[j, :2], axis=1)) / diagonal,
        "duration": 1 - np.median(np.abs(p[i, 2] - q[j, 2]) / np.maximum(p[i, 2], q[j, 2])),
    }
    return {key: float(value) for key, value in result.items()}


def test_multimatch_identical_paths_score_one():
    rng = np.random.default_rng(0)
    timed = random_path(rng, 6, durations=True)
    assert multimatch(timed, timed, SIZE) == pytest.approx(dict.fromkeys(sm.MULTIMATCH_KEYS, 1.0), abs=1e-12)
    untimed = multimatch(timed[:, :2], timed[:, :2], SIZE)
    assert math.isnan(untimed.pop("duration"))
    assert untimed == pytest.approx(dict.fromkeys(["vector", "direction", "length", "position"], 1.0), abs=1e-12)


def test_multimatch_translated_paths_hand_worked():
    # Same moves shifted by (30, 40) px: every saccade pair is identical (vector, direction,
    # length 1); every aligned start point is 50 px away: position = 1 - 50 / 1000.
    p = np.array([[100.0, 100.0], [100.0, 300.0], [300.0, 300.0]])
    q = p + [30.0, 40.0]
    result = multimatch(p, q, SIZE)
    assert math.isnan(result.pop("duration"))  # model paths have no durations
    assert result == pytest.approx({"vector": 1.0, "direction": 1.0, "length": 1.0, "position": 0.95}, abs=1e-12)


def test_multimatch_horizontal_versus_vertical_hand_worked():
    # p moves right twice by 100 px, q moves down twice by 100 px: the aligned saccades are at a
    # right angle (direction 1 - (pi / 2) / pi = 0.5), equally long (length 1), their difference is
    # 100 * sqrt(2) (vector 1 - 141.42 / 2000), and their start points are 360.6 and 223.6 px apart
    # (position 1 - median / 1000; the median of two values is their mean).
    # Note: no MultiMatch dimension changes if x and y are swapped in *both* paths (a reflection
    # keeps every length and angle), so this checks the measure, not the row/col mapping;
    # test_multimatch_passes_col_as_x_and_row_as_y checks the mapping itself.
    p = np.array([[300.0, 100.0], [300.0, 200.0], [300.0, 300.0]])
    q = np.array([[100.0, 400.0], [200.0, 400.0], [300.0, 400.0]])
    position = (math.hypot(200, 300) + math.hypot(100, 200)) / 2
    expected = {
        "vector": 1 - 100 * math.sqrt(2) / (2 * DIAGONAL),
        "direction": 0.5,
        "length": 1.0,
        "position": 1 - position / DIAGONAL,
    }
    result = multimatch(p, q, SIZE)
    del result["duration"]
    assert result == pytest.approx(expected, abs=1e-12)


def test_multimatch_passes_col_as_x_and_row_as_y(monkeypatch):
    seen = {}

    def fake_docomparison(fix1, fix2, screensize, grouping=False, **kwargs):
        seen.update(fix1=fix1, fix2=fix2, screensize=list(screensize), grouping=grouping, kwargs=kwargs)
        return [1.0] * 5

    monkeypatch.setattr(multimatch_gaze, "docomparison", fake_docomparison)
    p = np.array([[10.0, 500.0, 200.0], [20.0, 600.0, 300.0], [30.0, 700.0, 400.0]])
    q = np.array([[40.0, 100.0, 100.0], [50.0, 200.0, 100.0], [60.0, 300.0, 100.0]])
    multimatch(p, q, SIZE)
    assert seen["screensize"] == [800, 600]  # [W, H]: x first
    assert seen["grouping"] is False and seen["kwargs"] == {}
    np.testing.assert_array_equal(seen["fix1"]["start_x"], p[:, 1])
    np.testing.assert_array_equal(seen["fix1"]["start_y"], p[:, 0])
    np.testing.assert_array_equal(seen["fix1"]["duration"], p[:, 2] / 1000)  # seconds
    np.testing.assert_array_equal(seen["fix2"]["start_x"], q[:, 1])
    np.testing.assert_array_equal(seen["fix2"]["start_y"], q[:, 0])


def test_multimatch_durations_hand_worked():
    # Two saccades each, aligned one to one. Durations compared: those of the saccades' start
    # fixations, |100 - 200| / 200 = 0.5 and |200 - 200| / 200 = 0, median 0.25 -> 0.75. The last
    # fixation's duration is never compared (the package's rule), so changing it changes nothing.
    p = np.array([[100.0, 100.0, 100.0], [100.0, 300.0, 200.0], [300.0, 300.0, 300.0]])
    q = np.array([[100.0, 100.0, 200.0], [100.0, 300.0, 200.0], [300.0, 300.0, 900.0]])
    assert multimatch(p, q, SIZE)["duration"] == pytest.approx(0.75, abs=1e-12)
    q[-1, 2] = 50.0
    assert multimatch(p, q, SIZE)["duration"] == pytest.approx(0.75, abs=1e-12)


def test_multimatch_durations_only_when_both_paths_have_them():
    rng = np.random.default_rng(1)
    p, q = random_path(rng, 5, durations=True), random_path(rng, 4, durations=True)
    mixed = multimatch(p, q[:, :2], SIZE)
    untimed = multimatch(p[:, :2], q[:, :2], SIZE)
    assert math.isnan(mixed["duration"]) and math.isnan(untimed["duration"])
    assert mixed == pytest.approx(untimed, nan_ok=True)
    assert not math.isnan(multimatch(p, q, SIZE)["duration"])


def test_multimatch_fewer_than_three_fixations_is_nan():
    rng = np.random.default_rng(2)
    long = random_path(rng, 5, durations=True)
    for short in (long[:1], long[:2]):
        for result in (multimatch(short, long, SIZE), multimatch(long, short, SIZE)):
            assert set(result) == set(sm.MULTIMATCH_KEYS)
            assert all(math.isnan(value) for value in result.values())


def test_multimatch_matches_independent_reference():
    rng = np.random.default_rng(3)
    for n, m in [(3, 3), (4, 6), (7, 5), (10, 10)]:
        p, q = random_path(rng, n, durations=True), random_path(rng, m, durations=True)
        assert multimatch(p, q, SIZE) == pytest.approx(reference_multimatch(p, q, SIZE), abs=1e-12)


# --------------------------------------------------------------------------- grid strings


def reference_letters(path, size, grid):
    """Cell letters from the cell edges, np.digitize (row-major numbering from 0)."""
    (height, width), (rows, cols) = size, grid
    row_edges = np.linspace(-0.5, height - 0.5, rows + 1)[1:-1]
    col_edges = np.linspace(-0.5, width - 0.5, cols + 1)[1:-1]
    return [
        int(r) * cols + int(c) for r, c in zip(np.digitize(path[:, 0], row_edges), np.digitize(path[:, 1], col_edges))
    ]


def test_grid_string_hand_worked_cells_and_edges():
    # 600 x 800 in 8 x 12 cells of 75 x 66.67 px; the grid starts at -0.5 (the image's edge).
    path = np.array(
        [
            [-0.5, -0.5],  # top-left corner of the image: cell 0
            [74.4, 65.0],  # (74.4 + 0.5) / 75 = 0.999 -> row 0; (65.5) / 66.67 = 0.98 -> col 0
            [74.5, 66.2],  # (74.5 + 0.5) / 75 = 1 exactly -> row 1; 66.7 / 66.67 = 1.0005 -> col 1
            [599.49, 799.49],  # bottom-right pixel: row 7, col 11 -> 7 * 12 + 11 = 95
            [300.0, 400.0],  # 300.5 / 75 = 4.007 -> 4; 400.5 / 66.67 = 6.0075 -> 6: 4 * 12 + 6 = 54
        ]
    )
    assert grid_string(path, SIZE) == [0, 0, 13, 95, 54]
    assert grid_string(path, SIZE, grid=(1, 1)) == [0] * 5
    assert grid_string(path, SIZE, grid=(2, 3)) == [0, 0, 0, 5, 4]


def test_grid_string_matches_digitize():
    rng = np.random.default_rng(4)
    for grid in [(8, 12), (3, 5), (7, 7)]:
        path = random_path(rng, 200)
        assert grid_string(path, SIZE, grid) == reference_letters(path, SIZE, grid)


def test_grid_string_ignores_durations():
    rng = np.random.default_rng(5)
    path = random_path(rng, 6, durations=True)
    assert grid_string(path, SIZE) == grid_string(path[:, :2], SIZE)


# --------------------------------------------------------------------------- ScanMatch


@functools.cache
def toolbox_substitution_matrix(rows, cols, threshold):
    """ScanMatch_CreateSubMatrix.m, loop for loop (binX = cols, binY = rows), 0-based."""
    mat = np.zeros((rows * cols, rows * cols))
    ind_j = 0
    for i in range(rows):
        for j in range(cols):
            ind_i = 0
            for ii in range(rows):
                for jj in range(cols):
                    mat[ind_i, ind_j] = math.sqrt((j - jj) ** 2 + (i - ii) ** 2)
                    ind_i += 1
            ind_j += 1
    max_sub = mat.max()
    return np.abs(mat - max_sub) - (max_sub - threshold)


def alignments(n, m):
    """Every global alignment of sequences of lengths n and m: lists of (i or None, j or None)."""
    if n == 0 and m == 0:
        yield []
        return
    if n and m:
        for rest in alignments(n - 1, m - 1):
            yield [*rest, (n - 1, m - 1)]
    if n:
        for rest in alignments(n - 1, m):
            yield [*rest, (n - 1, None)]
    if m:
        for rest in alignments(n, m - 1):
            yield [*rest, (None, m - 1)]


def brute_force_scanmatch(p, q, size, grid, gap, threshold):
    """Best score over every alignment, with the toolbox's matrix and normalisation (ScanMatch.m)."""
    sub = toolbox_substitution_matrix(*grid, threshold)
    a, b = reference_letters(p, size, grid), reference_letters(q, size, grid)
    best = max(
        sum(gap if i is None or j is None else sub[a[i], b[j]] for i, j in alignment)
        for alignment in alignments(len(a), len(b))
    )
    return best / (sub.max() * max(len(a), len(b)))


def cell_centre(row, col, size=SIZE, grid=GRID):
    """(row, col) pixel position of the centre of grid cell (row, col)."""
    (height, width), (rows, cols) = size, grid
    return [(row + 0.5) * height / rows - 0.5, (col + 0.5) * width / cols - 0.5]


def test_scanmatch_identical_paths_score_one():
    rng = np.random.default_rng(6)
    for n in (1, 3, 10):
        path = random_path(rng, n)
        assert scanmatch(path, path, SIZE) == pytest.approx(1.0, abs=1e-12)
        assert scanmatch(path, path, SIZE, gap=-1.0, threshold=2.0) == pytest.approx(1.0, abs=1e-12)


def test_scanmatch_is_symmetric():
    rng = np.random.default_rng(7)
    for _ in range(20):
        p, q = random_path(rng, rng.integers(1, 11)), random_path(rng, rng.integers(1, 11))
        gap = float(rng.choice([0.0, -0.5, -2.0]))
        assert scanmatch(p, q, SIZE, gap=gap) == pytest.approx(scanmatch(q, p, SIZE, gap=gap), rel=1e-12, abs=1e-12)


def test_scanmatch_hand_worked():
    # Cells (grid row, grid col): A = (0, 0), B = (0, 1), C = (1, 1), Z = (7, 11).
    # Substitution threshold - distance (threshold 3.5): s(A,A) = 3.5, s(A,B) = s(B,C) = 2.5,
    # s(A,C) = 3.5 - sqrt(2), s(Z,A) = 3.5 - sqrt(7^2 + 11^2) = -9.538.
    a, b, c, z = cell_centre(0, 0), cell_centre(0, 1), cell_centre(1, 1), cell_centre(7, 11)
    #
    # p = A B, q = A C, gap 0. Needleman-Wunsch matrix F (rows: p, columns: q):
    #          -     A     C
    #     -    0     0     0
    #     A    0    3.5   3.5      F[1][2] = max(0 + s(A,C), 0, 3.5)
    #     B    0    3.5   6.0      F[2][2] = max(3.5 + s(B,C), 3.5, 3.5)
    # score 6 / (3.5 * 2) = 6 / 7
    assert scanmatch([a, b], [a, c], SIZE) == pytest.approx(6 / 7, abs=1e-12)
    #
    # Reversed: p = A B, q = B A, gap 0:
    #          -     B     A
    #     -    0     0     0
    #     A    0    2.5   3.5      F[1][1] = s(A,B); F[1][2] = max(0 + s(A,A), 0, 2.5)
    #     B    0    3.5   5.0      F[2][1] = max(0 + s(B,B), 2.5, 0); F[2][2] = max(2.5 + s(B,A), 3.5, 3.5)
    # score 5 / 7, below the identical path's 1
    assert scanmatch([a, b], [b, a], SIZE) == pytest.approx(5 / 7, abs=1e-12)
    #
    # With a gap penalty: p = A Z, q = A, gap -1 (first row and column -1 per gap):
    #          -     A
    #     -    0    -1
    #     A   -1    3.5      F[1][1] = max(0 + 3.5, -1 - 1, -1 - 1)
    #     Z   -2    2.5      F[2][1] = max(-1 + s(Z,A) = -10.54, 3.5 - 1, -2 - 1)
    # score 2.5 / (3.5 * 2) = 5 / 14
    assert scanmatch([a, z], [a], SIZE, gap=-1.0) == pytest.approx(5 / 14, abs=1e-12)
    # the same with gap 0: Z is left unmatched for free, 3.5 / 7
    assert scanmatch([a, z], [a], SIZE) == pytest.approx(0.5, abs=1e-12)


def test_scanmatch_reversed_path_scores_lower():
    # Five fixations in different cells along a diagonal; the reversed order keeps only one
    # fixation (the middle one) in place.
    path = np.array([cell_centre(k, 2 * k) for k in range(5)])
    reversed_score = scanmatch(path, path[::-1], SIZE)
    assert reversed_score < scanmatch(path, path, SIZE) == pytest.approx(1.0)
    assert reversed_score < 0.5


def test_scanmatch_substitution_follows_the_toolbox():
    # One fixation each and a prohibitive gap: the score is the substitution value / threshold.
    grid, threshold = (3, 4), 2.0
    sub = toolbox_substitution_matrix(*grid, threshold)
    cells = list(itertools.product(range(3), range(4)))
    for (k, cell_a), (m, cell_b) in itertools.product(enumerate(cells), repeat=2):
        p = [cell_centre(*cell_a, grid=grid)]
        q = [cell_centre(*cell_b, grid=grid)]
        score = scanmatch(p, q, SIZE, grid=grid, gap=-100.0, threshold=threshold)
        assert score * threshold == pytest.approx(sub[k, m], abs=1e-12)


def test_scanmatch_default_threshold_is_the_toolbox_default():
    rng = np.random.default_rng(8)
    p, q = random_path(rng, 6), random_path(rng, 5)
    assert sm.SCANMATCH_THRESHOLD == 3.5
    assert scanmatch(p, q, SIZE) == scanmatch(p, q, SIZE, threshold=3.5)


def test_scanmatch_matches_brute_force_alignment():
    rng = np.random.default_rng(9)
    for trial in range(60):
        grid = [(8, 12), (3, 4), (2, 2)][trial % 3]
        gap = [0.0, -0.5, -2.0, 0.5][trial % 4]
        threshold = [3.5, 2.0, 1.0][trial % 3]
        p, q = random_path(rng, rng.integers(1, 5)), random_path(rng, rng.integers(1, 5))
        expected = brute_force_scanmatch(p, q, SIZE, grid, gap, threshold)
        assert scanmatch(p, q, SIZE, grid=grid, gap=gap, threshold=threshold) == pytest.approx(expected, abs=1e-12)


# --------------------------------------------------------------------------- edit similarity


@functools.cache
def recursive_levenshtein(a, b):
    """Levenshtein distance from its recursive definition (a, b: tuples)."""
    if not a or not b:
        return len(a) + len(b)
    if a[0] == b[0]:
        return recursive_levenshtein(a[1:], b[1:])
    return 1 + min(
        recursive_levenshtein(a[1:], b), recursive_levenshtein(a, b[1:]), recursive_levenshtein(a[1:], b[1:])
    )


def test_edit_similarity_identical_and_symmetric():
    rng = np.random.default_rng(10)
    for _ in range(10):
        p, q = random_path(rng, rng.integers(1, 11)), random_path(rng, rng.integers(1, 11))
        assert edit_similarity(p, p, SIZE) == 1.0
        assert edit_similarity(p, q, SIZE) == edit_similarity(q, p, SIZE)


def test_edit_similarity_hand_worked():
    a, b, c, d, e = (cell_centre(0, k) for k in range(5))
    assert edit_similarity([a, b, c, d], [a, b, e, d], SIZE) == 0.75  # one substitution in 4
    assert edit_similarity([a, b, c], [a, c], SIZE) == pytest.approx(2 / 3)  # one deletion in 3
    assert edit_similarity([a, b], [b, a], SIZE) == 0.0  # two substitutions (or a deletion and an insertion)
    assert edit_similarity([a], [b, c, d, e], SIZE) == 0.0
    # a neighbouring cell is as wrong as a far one (compare ScanMatch)
    far = cell_centre(7, 11)
    assert edit_similarity([a, b], [a, c], SIZE) == edit_similarity([a, b], [a, far], SIZE) == 0.5
    assert scanmatch([a, b], [a, c], SIZE) > scanmatch([a, b], [a, far], SIZE)


def test_edit_similarity_matches_recursive_levenshtein():
    rng = np.random.default_rng(11)
    for _ in range(200):
        # few cells, so that letters repeat and partial matches are common
        p, q = random_path(rng, rng.integers(1, 8)), random_path(rng, rng.integers(1, 8))
        a, b = grid_string(p, SIZE, (2, 2)), grid_string(q, SIZE, (2, 2))
        expected = 1 - recursive_levenshtein(tuple(a), tuple(b)) / max(len(a), len(b))
        assert edit_similarity(p, q, SIZE, grid=(2, 2)) == pytest.approx(expected, abs=1e-12)


# --------------------------------------------------------------------------- mean nearest distance


def test_mean_nearest_distance_hand_worked():
    # p -> q: 5 (to (3, 4)); q -> p: 5 and 10, mean 7.5; average (5 + 7.5) / 2 = 6.25
    p = np.array([[0.0, 0.0]])
    q = np.array([[3.0, 4.0], [0.0, 10.0]])
    assert mean_nearest_distance(p, q) == pytest.approx(6.25, abs=1e-12)
    # durations play no part
    assert mean_nearest_distance(np.array([[0.0, 0.0, 250.0]]), q) == pytest.approx(6.25, abs=1e-12)


def test_mean_nearest_distance_identical_symmetric_and_order_free():
    rng = np.random.default_rng(12)
    for _ in range(10):
        p, q = random_path(rng, rng.integers(1, 11)), random_path(rng, rng.integers(1, 11))
        assert mean_nearest_distance(p, p) == 0.0
        value = mean_nearest_distance(p, q)
        assert value > 0
        assert mean_nearest_distance(q, p) == pytest.approx(value, rel=1e-12)
        shuffled_p, shuffled_q = rng.permutation(p), rng.permutation(q)
        assert mean_nearest_distance(shuffled_p, q) == pytest.approx(value, rel=1e-12)
        assert mean_nearest_distance(p, shuffled_q) == pytest.approx(value, rel=1e-12)


# --------------------------------------------------------------------------- compare


def test_compare_returns_the_individual_measures():
    rng = np.random.default_rng(13)
    for p, q in [
        (random_path(rng, 6, durations=True), random_path(rng, 4, durations=True)),
        (random_path(rng, 5), random_path(rng, 8, durations=True)),
        (random_path(rng, 2), random_path(rng, 5)),  # MultiMatch NaN
    ]:
        result = compare(p, q, SIZE, grid=(6, 9))
        expected = {f"mm_{key}": value for key, value in multimatch(p, q, SIZE).items()}
        expected["scanmatch"] = scanmatch(p, q, SIZE, grid=(6, 9))
        expected["edit"] = edit_similarity(p, q, SIZE, grid=(6, 9))
        expected["nearest_px"] = mean_nearest_distance(p, q)
        assert list(result) == list(expected)
        assert result == pytest.approx(expected, rel=0, abs=0, nan_ok=True)


# --------------------------------------------------------------------------- bad input

GOOD = np.array([[100.0, 100.0], [200.0, 300.0], [300.0, 500.0]])


@pytest.mark.parametrize(
    ("path", "error", "message"),
    [
        (np.array([1.0, 2.0]), ValueError, r"shape \(N, 2\).*reshape\(1, -1\)"),
        (np.zeros((4, 4)), ValueError, r"got \(4, 4\)"),
        (np.zeros((2, 5)), ValueError, r"path\.T"),
        (np.zeros((0, 2)), ValueError, "empty"),
        (np.array([[1.0, np.nan]]), ValueError, "NaN or infinite"),
        (np.array([[1.0, np.inf], [2.0, 3.0]]), ValueError, "NaN or infinite"),
        (np.array([[1.0, 2.0, 0.0]]), ValueError, "durations .* must be positive"),
        (np.array([["a", "b"]]), TypeError, "real numbers"),
        ([[1.0, 2.0], [3.0]], TypeError, "could not read list"),
    ],
)
def test_bad_paths_raise_clear_errors(path, error, message):
    for call in (
        lambda: multimatch(path, GOOD, SIZE),
        lambda: multimatch(GOOD, path, SIZE),
        lambda: scanmatch(path, GOOD, SIZE),
        lambda: edit_similarity(GOOD, path, SIZE),
        lambda: grid_string(path, SIZE),
        lambda: mean_nearest_distance(path, GOOD),
        lambda: compare(GOOD, path, SIZE),
    ):
        with pytest.raises(error, match=message):
            call()


def test_error_names_the_bad_path():
    with pytest.raises(ValueError, match=r"^q contains NaN"):
        scanmatch(GOOD, np.array([[np.nan, 1.0]]), SIZE)


@pytest.mark.parametrize(
    ("size", "error"),
    [
        ((600,), ValueError),
        ((600, 800, 3), ValueError),
        ((0, 800), ValueError),
        ((600, -1), ValueError),
        ((600.0, 800), TypeError),
        ((True, 800), TypeError),
        (600, TypeError),
        (None, TypeError),
    ],
)
def test_bad_size_raises(size, error):
    for call in (
        lambda: multimatch(GOOD, GOOD, size),
        lambda: scanmatch(GOOD, GOOD, size),
        lambda: edit_similarity(GOOD, GOOD, size),
        lambda: grid_string(GOOD, size),
        lambda: compare(GOOD, GOOD, size),
    ):
        with pytest.raises(error, match=r"size must be two positive ints \(H, W\)"):
            call()


@pytest.mark.parametrize("grid", [(0, 12), (8,), (8.5, 12), (8, 12, 1), 8])
def test_bad_grid_raises(grid):
    for call in (
        lambda: scanmatch(GOOD, GOOD, SIZE, grid=grid),
        lambda: edit_similarity(GOOD, GOOD, SIZE, grid=grid),
        lambda: grid_string(GOOD, SIZE, grid=grid),
        lambda: compare(GOOD, GOOD, SIZE, grid=grid),
    ):
        with pytest.raises((TypeError, ValueError), match=r"grid must be two positive ints \(rows, cols\)"):
            call()


@pytest.mark.parametrize("fixation", [[-0.51, 10.0], [599.5, 10.0], [10.0, -0.6], [10.0, 799.5], [1e6, 1e6]])
def test_fixations_outside_the_stimulus_raise_for_grid_measures(fixation):
    path = np.vstack([GOOD, fixation])
    for call in (
        lambda: scanmatch(GOOD, path, SIZE),
        lambda: edit_similarity(path, GOOD, SIZE),
        lambda: grid_string(path, SIZE),
        lambda: compare(GOOD, path, SIZE),
    ):
        with pytest.raises(ValueError, match=r"fixation 3 at .* lies outside the 600 x 800 stimulus"):
            call()
    # the order-free distance and MultiMatch need no grid and accept them
    assert math.isfinite(mean_nearest_distance(GOOD, path))
    assert math.isfinite(multimatch(GOOD, path, SIZE)["position"])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"threshold": 0.0}, ValueError, "threshold must be positive"),
        ({"threshold": -3.5}, ValueError, "threshold must be positive"),
        ({"threshold": math.nan}, ValueError, "threshold must be finite"),
        ({"threshold": "3.5"}, TypeError, "threshold must be a real number"),
        ({"gap": math.inf}, ValueError, "gap must be finite"),
        ({"gap": None}, TypeError, "gap must be a real number"),
    ],
)
def test_bad_scanmatch_parameters_raise(kwargs, error, message):
    with pytest.raises(error, match=message):
        scanmatch(GOOD, GOOD, SIZE, **kwargs)


def test_scanmatch_alignment_reproduces_the_score_from_its_pairs():
    rng = np.random.default_rng(5)
    size, grid = (600, 800), (8, 12)
    for _ in range(20):
        p = rng.uniform(0, 590, size=(int(rng.integers(1, 7)), 2)) * [1, 800 / 600]
        q = rng.uniform(0, 590, size=(int(rng.integers(1, 7)), 2)) * [1, 800 / 600]
        gap = float(rng.choice([0.0, -1.0]))
        result = scanmatch_alignment(p, q, size, grid, gap=gap)
        assert result["scanmatch"] == pytest.approx(scanmatch(p, q, size, grid, gap=gap))
        cells_p, cells_q = grid_string(p, size, grid), grid_string(q, size, grid)
        assert [x for x, _ in result["pairs"] if x is not None] == cells_p  # every letter once, in order
        assert [y for _, y in result["pairs"] if y is not None] == cells_q
        total = 0.0
        for x, y in result["pairs"]:
            if x is None or y is None:
                total += gap
            else:
                total += SCANMATCH_THRESHOLD - np.hypot(x // 12 - y // 12, x % 12 - y % 12)
        assert total == pytest.approx(result["score"])
