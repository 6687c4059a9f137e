import torch

from fovex_lib import foveate, foveate_with_memory, gaussian_blob, gaussian_blur, update_memory
from fovex_lib.method.memory import sharpness_mask


def test_memory_update_by_hand():
    f1 = torch.tensor([[0.5, -0.5]])
    f2 = torch.tensor([[-0.5, 0.5]])
    b1, b2 = gaussian_blob(f1, (32, 32), 0.1), gaussian_blob(f2, (32, 32), 0.1)
    g1 = update_memory(None, b1, 0.3)
    g2 = update_memory(g1, b2, 0.3)
    torch.testing.assert_close(g1, b1)
    torch.testing.assert_close(g2, 0.3 * b1 + b2)
    torch.testing.assert_close(update_memory(g1, b2, 0.0), b2)  # forget at once


def test_sharpness_mask_is_clipped_sum():
    memory = torch.full((1, 1, 4, 4), 0.7)
    blob = torch.full((1, 1, 4, 4), 0.6)
    torch.testing.assert_close(sharpness_mask(memory, blob), torch.ones(1, 1, 4, 4))
    torch.testing.assert_close(sharpness_mask(None, blob), blob)


def test_foveate_with_memory_formula():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 48, 48, generator=gen)
    blurred = gaussian_blur(x, 21, 5.0)
    f = torch.tensor([[0.2, 0.1], [-0.8, 0.9]])
    # no memory: identical to plain foveation
    torch.testing.assert_close(foveate_with_memory(x, blurred, None, f, 0.1), foveate(x, f, 0.1, blurred))
    # a memory that covers everything shows the original image
    full = torch.ones(2, 1, 48, 48)
    torch.testing.assert_close(foveate_with_memory(x, blurred, full, f, 0.1), x)
    # the reference formula x + (blur - x) * clip(1 - (G + blob), 0, 1)
    memory = 0.5 * gaussian_blob(torch.tensor([[0.0, 0.0], [0.5, 0.5]]), (48, 48), 0.2)
    expected = x + (blurred - x) * (1 - (memory + gaussian_blob(f, (48, 48), 0.1))).clamp(0, 1)
    torch.testing.assert_close(foveate_with_memory(x, blurred, memory, f, 0.1), expected)
