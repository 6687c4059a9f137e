import numpy as np
import pytest
import torch

from fovex_lib import attribution_map, gaussian_blob, normalise_maps


def test_single_fixation_gives_normalised_gaussian():
    scanpath = torch.tensor([[[0.25, -0.5]]])
    out = attribution_map(scanpath, (33, 33), sigma=0.1)
    blob = gaussian_blob(scanpath[:, 0], (33, 33), 0.1)
    expected = (blob - blob.min()) / (blob.max() - blob.min())
    torch.testing.assert_close(out, expected)


def test_range_and_max_per_image():
    gen = torch.Generator().manual_seed(0)
    scanpath = torch.rand(5, 10, 2, generator=gen) * 2 - 1
    out = attribution_map(scanpath, (64, 48))
    assert out.shape == (5, 1, 64, 48)
    assert out.min() >= 0 and out.max() <= 1
    torch.testing.assert_close(out.amax((1, 2, 3)), torch.ones(5))
    torch.testing.assert_close(out.amin((1, 2, 3)), torch.zeros(5))


def test_per_image_normalisation_is_independent_of_the_batch():
    a = torch.tensor([[[0.0, 0.0], [0.1, 0.1]]])
    b = torch.tensor([[[-0.9, 0.9], [0.9, -0.9]]])
    together = attribution_map(torch.cat([a, b]), (40, 40))
    torch.testing.assert_close(together[:1], attribution_map(a, (40, 40)))
    torch.testing.assert_close(together[1:], attribution_map(b, (40, 40)))


def test_weights_against_numpy():
    scanpath = torch.tensor([[[-0.5, -0.5], [0.5, 0.5]]], dtype=torch.float64)
    weights = torch.tensor([2.0, 0.5], dtype=torch.float64)
    out = attribution_map(scanpath, (20, 20), sigma=0.2, weights=weights, normalise=False)
    g = np.linspace(-1, 1, 20)
    rr, cc = np.meshgrid(g, g, indexing="ij")
    ref = 2.0 * np.exp(-((rr + 0.5) ** 2 + (cc + 0.5) ** 2) / 0.2) + 0.5 * np.exp(
        -((rr - 0.5) ** 2 + (cc - 0.5) ** 2) / 0.2
    )
    np.testing.assert_allclose(out[0, 0].numpy(), ref, rtol=1e-12)
    with pytest.raises(ValueError, match="weights"):
        attribution_map(scanpath, (20, 20), weights=torch.ones(3))


def test_constant_map_becomes_zero_and_bad_shapes_fail():
    torch.testing.assert_close(normalise_maps(torch.full((2, 1, 4, 4), 3.0)), torch.zeros(2, 1, 4, 4))
    with pytest.raises(ValueError, match=r"\(B, L, 2\)"):
        attribution_map(torch.zeros(4, 2), (8, 8))
    with pytest.raises(ValueError, match="positive"):
        attribution_map(torch.zeros(1, 1, 2), (8, 8), sigma=-1)
