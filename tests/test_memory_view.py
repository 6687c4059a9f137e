"""foveate_with_memory without a candidate fixation: the view of the memory alone (chapter 3)."""

import pytest
import torch

from fovex_lib import foveate_with_memory, gaussian_blob, update_memory
from fovex_lib.method.memory import sharpness_mask


def test_memory_alone_is_the_clipped_blend_bit_for_bit():
    gen = torch.Generator().manual_seed(0)
    x, blurred = torch.rand(2, 3, 16, 16, generator=gen), torch.rand(2, 3, 16, 16, generator=gen)
    first, second = torch.tensor([[0.2, -0.3], [-0.5, 0.5]]), torch.tensor([[0.25, -0.3], [0.9, 0.9]])
    memory = update_memory(None, gaussian_blob(first, (16, 16), 0.15), 1.0)
    memory = update_memory(memory, gaussian_blob(second, (16, 16), 0.15), 1.0)
    assert memory.max() > 1  # overlapping blobs: the clip matters
    expected = x + (blurred - x) * (1 - memory.clamp(0, 1))  # the formula chapter 3 used to write out
    assert torch.equal(foveate_with_memory(x, blurred, memory, None, 0.15), expected)
    assert torch.equal(sharpness_mask(memory, None), memory.clamp(0, 1))


def test_no_memory_and_no_fixation_shows_the_blurred_image():
    x, blurred = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    torch.testing.assert_close(foveate_with_memory(x, blurred, None, None, 0.15), blurred)
    with pytest.raises(ValueError):
        sharpness_mask(None, None)
