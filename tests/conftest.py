"""Shared fixtures and helpers of the test files (tests import helpers from here, never from
each other): tiny deterministic models whose behaviour is known analytically, the offline
data folder, a file-size limit."""

import contextlib
import resource
import signal
from pathlib import Path

import pytest
import torch
from torch import nn

from fovex_lib.gaze.download import data_root

torch.set_num_threads(2)

REPO = Path(__file__).resolve().parents[1]


def shared_data() -> Path:
    """The folder holding the offline OSIE data: $FOVEX_DATA (CI: ../shared/data), else
    ../shared/data beside the repository (fovex_lib.gaze.download.data_root).

    Missing data fail the calling test, never skip it: the tests on real data must run in CI.
    """
    try:
        return data_root(contains="osie/eye/fixations.mat", fallbacks=[REPO.parent / "shared" / "data"], bases=[REPO])
    except FileNotFoundError as err:
        pytest.fail(f"{err} (CI sets FOVEX_DATA=../shared/data.)")


class RegionSharpnessModel(nn.Module):
    """Class 0's logit grows with the high-frequency energy inside one box.

    Energy = mean squared difference between neighbouring pixels inside
    ``box = (top, left, bottom, right)`` (pixel indices, bottom/right exclusive).
    Blurring removes that energy, so the cross-entropy for class 0 is lowest
    exactly when the box is shown sharp: the best fixation lies in the box.
    """

    def __init__(self, box, gain=200.0):
        super().__init__()
        self.box = box
        self.gain = gain

    def forward(self, x):
        top, left, bottom, right = self.box
        region = x[:, :, top:bottom, left:right]
        energy = (region[..., 1:, :] - region[..., :-1, :]).pow(2).mean((1, 2, 3)) + (
            region[..., :, 1:] - region[..., :, :-1]
        ).pow(2).mean((1, 2, 3))
        score = self.gain * energy
        return torch.stack([score, torch.zeros_like(score), -score], dim=1)


def tiny_cnn(seed=0, dtype=torch.float64, classes=5):
    """A small random conv net (eval mode) for batch/seed tests."""
    gen = torch.Generator().manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 5, stride=2, padding=2),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        nn.Linear(16 * 16, classes),
    )
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    return net.to(dtype).eval()


@pytest.fixture
def noise_images():
    gen = torch.Generator().manual_seed(123)
    return torch.rand(3, 3, 64, 64, generator=gen, dtype=torch.float64)


@contextlib.contextmanager
def file_size_limit(limit):
    """Writes that grow a file beyond ``limit`` bytes fail with EFBIG, as on a full disk."""
    saved = resource.getrlimit(resource.RLIMIT_FSIZE)
    saved_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, saved[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, saved)
        signal.signal(signal.SIGXFSZ, saved_handler)
