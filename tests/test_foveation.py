import math

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from fovex_lib import foveate, gaussian_blob, gaussian_blur, to_normalised, to_pixels


def test_blob_peaks_at_fixation_with_documented_width():
    size = (41, 61)
    pixel = torch.tensor([[10.0, 45.0]])  # (row, col) on the pixel grid
    f = to_normalised(pixel, size)
    sigma = 0.15
    blob = gaussian_blob(f, size, sigma)[0, 0]
    assert blob.shape == size
    assert torch.argmax(blob).item() == 10 * 61 + 45
    assert blob[10, 45].item() == pytest.approx(1.0)
    # independent formula: exp(-d^2 / sigma) with the grid step 2 / (n - 1)
    rows = np.linspace(-1, 1, size[0])
    cols = np.linspace(-1, 1, size[1])
    d2 = (rows[:, None] - rows[10]) ** 2 + (cols[None, :] - cols[45]) ** 2
    np.testing.assert_allclose(blob.numpy(), np.exp(-d2 / sigma), rtol=1e-5, atol=1e-7)
    # width: along the row, the value falls to 1/e at distance sqrt(sigma)
    step = 2 / (size[1] - 1)
    k = 6
    assert blob[10, 45 - k].item() == pytest.approx(math.exp(-((k * step) ** 2) / sigma), rel=1e-5)


def test_blob_batch_and_gradient():
    f = torch.tensor([[0.0, 0.0], [-1.0, 1.0]], requires_grad=True)
    blob = gaussian_blob(f, (21, 21), 0.1)
    assert blob.shape == (2, 1, 21, 21)
    assert blob[1, 0, 0, 20].item() == pytest.approx(1.0)  # top-right corner
    blob[:, 0, 5, 5].sum().backward()
    assert f.grad is not None and torch.all(f.grad.abs() > 0)


def test_blur_matches_scipy_and_keeps_mean_colour():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 64, 80, generator=gen, dtype=torch.float64)
    out = gaussian_blur(x, kernel_size=41, sigma=10.0)
    # independent computation: scipy's Gaussian filter, mirror padding, radius 20
    ref = gaussian_filter(x.numpy(), sigma=(0, 0, 10, 10), mode="mirror", truncate=2.0)
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-6)
    np.testing.assert_allclose(out.mean((2, 3)).numpy(), x.mean((2, 3)).numpy(), atol=5e-3)
    constant = torch.full((1, 3, 50, 50), 0.3)
    torch.testing.assert_close(gaussian_blur(constant), constant)


def test_blur_rejects_bad_kernels():
    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(ValueError, match="odd"):
        gaussian_blur(x, kernel_size=4)
    with pytest.raises(ValueError, match="too large"):
        gaussian_blur(x, kernel_size=65)
    with pytest.raises(ValueError, match="positive"):
        gaussian_blur(x, kernel_size=5, sigma=0)


def test_foveate_sharp_at_fixation_blurred_far_away():
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(1, 3, 96, 96, generator=gen)
    pixel = torch.tensor([[20.0, 70.0]])
    f = to_normalised(pixel, (96, 96))
    blurred = gaussian_blur(x, 41, 10.0)
    out = foveate(x, f, sigma=0.05, blurred=blurred)
    torch.testing.assert_close(out[..., 20, 70], x[..., 20, 70])
    torch.testing.assert_close(out[..., 90, 5], blurred[..., 90, 5], atol=1e-6, rtol=0)
    # computing the blur inside gives the same result
    torch.testing.assert_close(foveate(x, f, sigma=0.05), out)


def test_pixel_conversion_round_trip():
    size = (224, 300)
    corners = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]])
    px = to_pixels(corners, size)
    torch.testing.assert_close(px, torch.tensor([[0.0, 0.0], [223.0, 299.0], [111.5, 149.5]]))
    torch.testing.assert_close(to_normalised(px, size), corners)
