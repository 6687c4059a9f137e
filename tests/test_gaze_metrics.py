"""NSS and AUC-Judd: analytic fixtures, a hand-computed case, and agreement with a slow
reference written from the MIT saliency benchmark's definition (NSS.m / AUC_Judd.m).

pysaliency was tried as an independent implementation: version 0.2.22 installs from
PyPI here but does not import (it needs ``pkg_resources`` and NumPy's removed
``np.trapz``), so the reference below is a plain Python loop instead.
"""

import itertools
import math

import numpy as np
import pytest
import torch

from fovex_lib.gaze.saliency_metrics import auc_judd, judd_roc_curve, nss, prepare_maps


def reference_nss(saliency, fixated):
    """Benchmark NSS.m: z-score with MATLAB's std (N - 1), mean over fixated pixels."""
    values = [float(v) for v in saliency.ravel()]
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    fixed = [v for v, f in zip(values, fixated.ravel()) if f]
    return sum((v - mean) / std for v in fixed) / len(fixed)


def reference_auc_judd(saliency, fixated):
    """Benchmark AUC_Judd.m after its jitter (the values are assumed distinct): thresholds are the
    fixated values, highest first; at the i-th, TPR = i / #fixated and FPR = (#pixels >= t - i) /
    #non-fixated; trapezoid rule through (0, 0) and (1, 1)."""
    values = [float(v) for v in saliency.ravel()]
    flags = [bool(f) for f in fixated.ravel()]
    positives = sorted((v for v, f in zip(values, flags) if f), reverse=True)
    n_free = len(values) - len(positives)
    points = [(0.0, 0.0)]
    for i, t in enumerate(positives, start=1):
        above = sum(v >= t for v in values)
        points.append(((above - i) / n_free, i / len(positives)))
    points.append((1.0, 1.0))
    return sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in zip(points, points[1:]))


def reference_expected_auc_judd(saliency, fixated):
    """The benchmark's score averaged over *every* order of tied pixels, by brute force: each
    permutation of each tie group is turned into distinct values and scored by the rule above."""
    values = np.asarray(saliency, dtype=np.float64).ravel()
    flags = np.asarray(fixated).ravel()
    distinct = np.unique(values)
    gap = np.diff(distinct).min() if len(distinct) > 1 else 1.0
    groups = [np.flatnonzero(values == v) for v in distinct]
    orders = [list(itertools.permutations(g)) for g in groups]
    scores = []
    for choice in itertools.product(*orders):
        broken = values.copy()
        for perm in choice:  # position j within a tie group: a tiny offset that keeps groups apart
            for j, pixel in enumerate(perm):
                broken[pixel] += gap * j / (len(perm) + 1)
        scores.append(reference_auc_judd(broken, flags))
    return float(np.mean(scores))


def _random_case(gen, height=12, width=15, ties=False, fixations=9):
    saliency = torch.rand(height, width, generator=gen, dtype=torch.float64)
    if ties:
        saliency = (saliency * 4).floor()
    mask = torch.zeros(height * width, dtype=torch.bool)
    mask[torch.randperm(height * width, generator=gen)[:fixations]] = True
    return saliency, mask.view(height, width)


def test_constant_map_is_chance():
    maps = torch.full((2, 1, 20, 30), 0.7)
    masks = torch.zeros(2, 1, 20, 30, dtype=torch.bool)
    masks[0, 0, 3, 4] = masks[0, 0, 10, 20] = masks[1, 0, 19, 29] = True
    assert torch.allclose(nss(maps, masks), torch.zeros(2))
    # the Judd curve's half-step optimism: 0.5 + 1 / (2 (|F| + 1)) for |F| = 2 and 1 fixations
    expected = torch.tensor([0.5 + 1 / 6, 0.5 + 1 / 4])
    assert torch.allclose(auc_judd(maps, masks), expected, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_constant_map_stays_constant_after_resizing(dtype):
    """A 7x7 constant resized to the stimulus differs from a constant by rounding only: NSS must
    still be 0 (it was -0.9999 for float64 0.1 before the relative tolerance) and AUC the constant's."""
    masks = torch.zeros(2, 1, 30, 41, dtype=torch.bool)
    masks[0, 0, 3, 4] = masks[0, 0, 10, 20] = masks[0, 0, 29, 40] = masks[1, 0, 15, 7] = True
    maps = torch.full((2, 1, 7, 7), 0.1, dtype=dtype)
    maps[1] = 0.3
    assert torch.equal(nss(maps, masks), torch.zeros(2, dtype=dtype))
    expected = torch.tensor([0.5 + 1 / 8, 0.5 + 1 / 4], dtype=dtype)
    assert torch.allclose(auc_judd(maps, masks), expected, atol=1e-6)
    # a real (small) spread is not flattened
    varied = maps.clone()
    varied[0, 0, 0, 0] = 0.2
    assert nss(varied, masks)[0].abs().item() > 0.01


def test_tied_fixated_minima_are_averaged_over_tie_orders():
    """The failure this rule fixes: fixated pixels tied at the map's minimum (0 outside a model's
    window). Counting ties with >= jumped from the last nonzero fixated value straight to (1, 1),
    skipping the non-fixated pixels with lower but nonzero values."""
    saliency = torch.tensor([[0.9, 0.5, 0.3, 0.2, 0.1], [0.0, 0.0, 0.0, 0.6, 0.05]], dtype=torch.float64)
    fixated = torch.tensor([[True, False, False, False, False], [True, True, False, True, False]])
    got = auc_judd(saliency[None, None], fixated[None, None]).item()
    expected = reference_expected_auc_judd(saliency.numpy(), fixated.numpy())
    assert got == pytest.approx(expected, abs=1e-12)
    # by hand: free pixels 0.5, 0.3, 0.2, 0.1, 0.05 have 2 fixated above (shares 5/8 each); the
    # free 0 lies below X of the 2 tied fixated zeros, X uniform on 0..2: shares 5/8, 7/8, 1
    by_hand = (5 * 5 / 8 + (5 / 8 + 7 / 8 + 1) / 3) / 6
    assert got == pytest.approx(by_hand, abs=1e-12)
    # the old ">=" rule: points (0, 1/4), (0, 1/2), then (1, 1) twice: area 3/4
    assert got == pytest.approx(0.6597222, abs=1e-6) and got < 0.75 - 0.09
    # the benchmark's own seeded jitter agrees on average
    jittered = [auc_judd(saliency[None, None], fixated[None, None], ties="jitter", seed=s).item() for s in range(300)]
    assert np.mean(jittered) == pytest.approx(got, abs=3 * np.std(jittered) / math.sqrt(300) + 1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_expected_rule_equals_brute_force_over_tie_orders(seed):
    gen = torch.Generator().manual_seed(seed)
    saliency = (torch.rand(2, 4, generator=gen, dtype=torch.float64) * 3).floor() / 3  # many ties
    fixated = torch.zeros(8, dtype=torch.bool)
    fixated[torch.randperm(8, generator=gen)[:3]] = True
    fixated = fixated.view(2, 4)
    got = auc_judd(saliency[None, None], fixated[None, None]).item()
    assert got == pytest.approx(reference_expected_auc_judd(saliency.numpy(), fixated.numpy()), abs=1e-12)


def test_jitter_rule_is_seeded_and_matches_the_benchmark_loop():
    gen = torch.Generator().manual_seed(11)
    saliency, fixated = _random_case(gen, ties=True)
    maps, masks = saliency[None, None], fixated[None, None]
    a = auc_judd(maps, masks, ties="jitter", seed=4).item()
    assert a == auc_judd(maps, masks, ties="jitter", seed=4).item()
    noise = torch.rand(maps.flatten(1).shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    jittered = saliency.numpy().ravel() + 1e-7 * noise.numpy().ravel()
    assert a == pytest.approx(reference_auc_judd(jittered, fixated.numpy()), abs=1e-12)
    fp, tp = judd_roc_curve(maps, masks, seed=4)
    assert np.trapezoid(tp, fp) == pytest.approx(a, abs=1e-12)
    with pytest.raises(ValueError, match="ties must be one of"):
        auc_judd(maps, masks, ties="mit")


def test_map_equal_to_fixation_map_is_perfect():
    height, width = 20, 30
    masks = torch.zeros(1, 1, height, width, dtype=torch.bool)
    spots = [(2, 3), (10, 10), (15, 27), (19, 0)]
    for r, c in spots:
        masks[0, 0, r, c] = True
    maps = masks.double()
    p = len(spots) / (height * width)
    pixels = height * width
    std = math.sqrt(pixels / (pixels - 1) * p * (1 - p))  # sample std of a 0/1 map
    assert auc_judd(maps, masks).item() == pytest.approx(1.0, abs=1e-12)
    assert nss(maps, masks).item() == pytest.approx((1 - p) / std, rel=1e-9)


def test_gaussian_peaks_on_fixations_score_high():
    height, width = 60, 80
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    spots = [(10, 15), (40, 60), (30, 30)]
    maps = sum(torch.exp(-((rows - r) ** 2 + (cols - c) ** 2) / (2 * 3.0**2)) for r, c in spots)[None, None].float()
    masks = torch.zeros(1, 1, height, width, dtype=torch.bool)
    for r, c in spots:
        masks[0, 0, r, c] = True
    assert auc_judd(maps, masks).item() > 0.99
    assert nss(maps, masks).item() > 5.0
    # the same map scored against fixations far from its peaks is worse than chance
    far = torch.zeros_like(masks)
    far[0, 0, 55, 5] = far[0, 0, 5, 75] = True
    assert auc_judd(maps, far).item() < 0.5 and nss(maps, far).item() < 0


def test_hand_computed_example():
    # map [0.9, 0.4, 0.6, 0.2, 0.8], fixated pixels 1 and 4.
    # thresholds 0.8 -> (FPR 1/3, TPR 1/2); 0.4 -> (2/3, 1); area = 1/12 + 1/4 + 1/3 = 2/3
    maps = torch.tensor([[[[0.9, 0.4, 0.6, 0.2, 0.8]]]], dtype=torch.float64)
    masks = torch.tensor([[[[False, True, False, False, True]]]])
    assert auc_judd(maps, masks).item() == pytest.approx(2 / 3, abs=1e-12)
    fp, tp = judd_roc_curve(maps, masks)
    np.testing.assert_allclose(fp, [0, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(tp, [0, 1 / 2, 1, 1])
    mean, std = 0.58, math.sqrt(0.328 / 4)
    assert nss(maps, masks).item() == pytest.approx(((0.4 - mean) + (0.8 - mean)) / (2 * std), rel=1e-9)


@pytest.mark.parametrize("ties", [False, True])
def test_agrees_with_reference_loop(ties):
    gen = torch.Generator().manual_seed(7 + ties)
    cases = [_random_case(gen, ties=ties, fixations=k) for k in (1, 5, 9, 14)]
    maps = torch.stack([c[0] for c in cases])[:, None]
    masks = torch.stack([c[1] for c in cases])[:, None]
    got_auc, got_nss = auc_judd(maps, masks), nss(maps, masks)
    for b, (saliency, fixated) in enumerate(cases):
        if not ties:  # distinct values: the benchmark's rule exactly
            assert got_auc[b].item() == pytest.approx(reference_auc_judd(saliency.numpy(), fixated.numpy()), abs=1e-12)
        assert got_nss[b].item() == pytest.approx(reference_nss(saliency.numpy(), fixated.numpy()), rel=1e-9)
    if ties:  # the mean of the benchmark's jittered scores (Monte Carlo over seeds)
        runs = torch.stack([auc_judd(maps, masks, ties="jitter", seed=s) for s in range(400)])
        spread = runs.std(0) / math.sqrt(400)
        assert ((runs.mean(0) - got_auc).abs() <= 4 * spread + 1e-9).all()


def test_batched_equals_one_by_one():
    gen = torch.Generator().manual_seed(3)
    cases = [_random_case(gen, fixations=k) for k in (2, 7, 11)]
    maps = torch.stack([c[0] for c in cases])[:, None]
    masks = torch.stack([c[1] for c in cases])[:, None]
    batch_auc, batch_nss = auc_judd(maps, masks), nss(maps, masks)
    for b in range(3):
        assert auc_judd(maps[b : b + 1], masks[b : b + 1]).item() == pytest.approx(batch_auc[b].item(), abs=1e-12)
        assert nss(maps[b : b + 1], masks[b : b + 1]).item() == pytest.approx(batch_nss[b].item(), abs=1e-12)


def test_invariances():
    gen = torch.Generator().manual_seed(5)
    saliency, fixated = _random_case(gen)
    maps, masks = saliency[None, None], fixated[None, None]
    # AUC depends only on the order of values; NSS is invariant to affine rescaling
    assert auc_judd(maps**3, masks).item() == pytest.approx(auc_judd(maps, masks).item(), abs=1e-12)
    assert nss(5 * maps + 2, masks).item() == pytest.approx(nss(maps, masks).item(), rel=1e-9)


def test_map_is_resized_to_the_stimulus():
    # a 2x2 map whose left column is high, upsampled to 4x4 (bilinear): fixations on the left win
    small = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]])
    masks = torch.zeros(1, 1, 4, 4, dtype=torch.bool)
    masks[0, 0, 1, 0] = True
    up = prepare_maps(small, (4, 4))
    assert up.shape == (1, 1, 4, 4)
    # align_corners=False: columns 0..3 sample x = -0.25, 0.25, 0.75, 1.25 (clamped) -> 1, 0.75, 0.25, 0
    assert torch.allclose(up[0, 0, 0], torch.tensor([1.0, 0.75, 0.25, 0.0]))
    assert auc_judd(small, masks).item() == pytest.approx(auc_judd(up, masks).item())
    with pytest.raises(ValueError, match="resize"):
        nss(small, masks, resize=None)


def test_bad_input():
    maps = torch.rand(1, 1, 5, 5)
    masks = torch.zeros(1, 1, 5, 5, dtype=torch.bool)
    with pytest.raises(ValueError, match="no fixated pixel"):
        nss(maps, masks)
    masks[0, 0, 2, 2] = True
    with pytest.raises(TypeError, match="bool"):
        auc_judd(maps, masks.float())
    with pytest.raises(ValueError, match="NaN"):
        auc_judd(torch.full((1, 1, 5, 5), float("nan")), masks)
    with pytest.raises(ValueError, match="2 maps but 1"):
        nss(torch.rand(2, 1, 5, 5), masks)
    with pytest.raises(ValueError, match="every pixel"):
        auc_judd(maps, torch.ones(1, 1, 5, 5, dtype=torch.bool))
    with pytest.raises(TypeError, match="floating-point"):
        nss(np.zeros((1, 1, 5, 5)), masks)
