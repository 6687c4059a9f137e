"""NSS and AUC-Judd: analytic fixtures, a hand-computed case, and agreement with a slow
reference written from the MIT saliency benchmark's definition (NSS.m / AUC_Judd.m).

pysaliency was tried as an independent implementation: version 0.2.22 installs from
PyPI here but does not import (it needs ``pkg_resources`` and NumPy's removed
``np.trapz``), so the reference below is a plain Python loop instead.
"""
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
    """Benchmark AUC_Judd.m without jitter: thresholds at fixated values (descending);
    TPR = fixated >= t / #fixated, FPR = non-fixated >= t / #non-fixated; trapezoid rule
    through (0,0) and (1,1). Ties are counted with >=, one threshold per fixation."""
    values = [float(v) for v in saliency.ravel()]
    flags = [bool(f) for f in fixated.ravel()]
    positives = [v for v, f in zip(values, flags) if f]
    negatives = [v for v, f in zip(values, flags) if not f]
    points = [(0.0, 0.0)]
    for t in sorted(positives, reverse=True):
        tp = sum(p >= t for p in positives) / len(positives)
        fp = sum(n >= t for n in negatives) / len(negatives)
        points.append((fp, tp))
    points.append((1.0, 1.0))
    return sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in zip(points, points[1:]))


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
    assert torch.allclose(auc_judd(maps, masks), torch.full((2,), 0.5), atol=1e-12)


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
        assert got_auc[b].item() == pytest.approx(reference_auc_judd(saliency.numpy(), fixated.numpy()), abs=1e-12)
        assert got_nss[b].item() == pytest.approx(reference_nss(saliency.numpy(), fixated.numpy()), rel=1e-9)


def test_batched_equals_one_by_one():
    gen = torch.Generator().manual_seed(3)
    cases = [_random_case(gen, fixations=k) for k in (2, 7, 11)]
    maps = torch.stack([c[0] for c in cases])[:, None]
    masks = torch.stack([c[1] for c in cases])[:, None]
    batch_auc, batch_nss = auc_judd(maps, masks), nss(maps, masks)
    for b in range(3):
        assert auc_judd(maps[b:b + 1], masks[b:b + 1]).item() == pytest.approx(batch_auc[b].item(), abs=1e-12)
        assert nss(maps[b:b + 1], masks[b:b + 1]).item() == pytest.approx(batch_nss[b].item(), abs=1e-12)


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
