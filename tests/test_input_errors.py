"""Clear errors (what, why, how to fix) for input that used to give raw tracebacks or silent
nonsense: image dtype vs model dtype, NaN logits, bad FovEx weights, string or empty
targets, seeds outside the generator's range."""

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from fovex_lib import FovEx, make_explainer
from fovex_lib.method.attribution import attribution_map
from fovex_lib.method.fixations import loss_landscape, random_draws
from fovex_lib.method.foveation import gaussian_blur

from conftest import tiny_cnn

SMALL = dict(scanpath_length=2, steps=2, blur_kernel_size=9)


def images(dtype=torch.float32, batch=2):
    return torch.rand(batch, 3, 32, 32, generator=torch.Generator().manual_seed(0), dtype=torch.float64).to(dtype)


# --- image dtype vs model dtype -------------------------------------------------------


@pytest.mark.slow
def test_float64_images_for_a_float32_model_are_converted_with_a_note():
    explainer = FovEx(tiny_cnn(dtype=torch.float32), **SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expected = explainer(images(torch.float32))
    note = r"images are torch.float64 but the model computes in torch.float32.*\.float\(\)"
    with pytest.warns(UserWarning, match=note):
        got = explainer(images(torch.float64))
    torch.testing.assert_close(got.saliency, expected.saliency)
    torch.testing.assert_close(got.scanpath, expected.scanpath)


def test_float32_images_for_a_float64_model_are_converted_with_a_note():
    with pytest.warns(UserWarning, match="converting the images to torch.float64"):
        out = FovEx(tiny_cnn(dtype=torch.float64), **SMALL)(images(torch.float32))
    assert out.saliency.dtype == torch.float64


def test_half_precision_mismatch_raises_with_the_fix():
    with pytest.raises(TypeError, match=r"torch.float16 but the model's parameters are torch.float32.*autocast_dtype"):
        FovEx(tiny_cnn(dtype=torch.float32), **SMALL)(images(torch.float16))


# --- NaN logits ------------------------------------------------------------------------


class NaNAfter(nn.Module):
    """tiny_cnn's logits for the first ``calls`` calls, NaN afterwards."""

    def __init__(self, calls):
        super().__init__()
        self.net, self.calls = tiny_cnn(dtype=torch.float32), calls

    def forward(self, x):
        self.calls -= 1
        out = self.net(x)
        return out if self.calls >= 0 else out * float("nan")


class NaNGradient(nn.Module):
    """Finite logits whose gradient is NaN (sqrt at 0)."""

    def __init__(self):
        super().__init__()
        self.net = tiny_cnn(dtype=torch.float32)

    def forward(self, x):
        return self.net(x) + torch.sqrt((x - x.detach()).pow(2).sum())


def test_nan_logits_on_the_input_raise():
    message = r"NaN or infinite logits on the input images for image\(s\) of the batch: 0, 1.*meaningless"
    with pytest.raises(ValueError, match=message):
        FovEx(NaNAfter(0), **SMALL)(images())


def test_nan_logits_during_the_fixation_search_raise():
    """Before: the search fell back to random restarts and returned a finite, meaningless map."""
    with pytest.raises(ValueError, match="NaN or infinite logits.*during the fixation search"):
        FovEx(NaNAfter(1), **SMALL)(images())


def test_nan_gradients_during_the_fixation_search_raise():
    with pytest.raises(ValueError, match="NaN gradients"):
        FovEx(NaNGradient(), **SMALL)(images())


def test_nan_logits_in_the_loss_landscape_raise():
    x = images(batch=1)
    with pytest.raises(ValueError, match="loss-landscape grid for grid point"):
        loss_landscape(NaNAfter(0), x, gaussian_blur(x, 9, 3.0), None, 0, resolution=3)


def test_nan_logits_in_a_baseline_raise():
    with pytest.raises(ValueError, match="NaN or infinite logits on the input images"):
        make_explainer("rise", NaNAfter(0), n_masks=4)(images())


# --- FovEx weights ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "weights, error, match",
    [
        ([1.0, float("nan")], ValueError, "1 NaN or infinite"),
        ([1.0, float("inf")], ValueError, "NaN or infinite"),
        ([1.0, -0.5], ValueError, "must be >= 0, got -0.5"),
        ([0.0, 0.0], ValueError, "all zero"),
        ([1.0, 1.0, 1.0], ValueError, "3 entries per image but the scanpath has 2"),
        ("uniform", TypeError, "must be numbers, got the string"),
        ([True, False], TypeError, "real numbers"),
    ],
)
def test_bad_weights_are_refused_when_the_explainer_is_made(weights, error, match):
    with pytest.raises(error, match=match):
        FovEx(tiny_cnn(), **SMALL, weights=weights)


def test_attribution_map_checks_weights_too():
    scanpath = torch.zeros(2, 2, 2)
    with pytest.raises(ValueError, match="NaN"):
        attribution_map(scanpath, (8, 8), weights=torch.tensor([1.0, float("nan")]))
    with pytest.raises(ValueError, match=">= 0"):
        attribution_map(scanpath, (8, 8), weights=[[1.0, 1.0], [1.0, -1.0]])
    ok = attribution_map(scanpath, (8, 8), weights=[[1, 0], [0, 2]])  # ints and zeros are fine
    assert ok.shape == (2, 1, 8, 8)


# --- targets -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def explainer():
    return FovEx(tiny_cnn(dtype=torch.float32), scanpath_length=1, steps=1, blur_kernel_size=9)


@pytest.mark.parametrize("target", ["3", "espresso", ["a", "b"], b"3"])
def test_class_names_as_targets_are_refused(explainer, target):
    with pytest.raises(TypeError, match=r"class indices, not class names.*class_names.index"):
        explainer(images(), target=target)


@pytest.mark.parametrize("target", [[], (), torch.tensor([], dtype=torch.long), np.array([], dtype=np.int64)])
def test_empty_targets_are_refused(explainer, target):
    with pytest.raises(ValueError, match=r"target is empty.*B = 2.*None to explain the predicted"):
        explainer(images(), target=target)


def test_unconvertible_targets_are_refused(explainer):
    with pytest.raises(TypeError, match="target must be an int, a sequence of ints or None"):
        explainer(images(), target=[1, None])


# --- seeds ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [-1, 2**63, 2**64 - 1, -(2**63)])
def test_seeds_outside_the_generator_range_are_refused(seed):
    with pytest.raises(ValueError, match=r"seed must lie in \[0, 2\*\*63\).*seed % 2\*\*63"):
        FovEx(tiny_cnn(), seed=seed)
    with pytest.raises(ValueError, match=r"\[0, 2\*\*63\)"):
        random_draws(seed, 1, 1)
    with pytest.raises(ValueError, match=r"\[0, 2\*\*63\)"):
        make_explainer("rise", tiny_cnn(), seed=seed)


def test_the_largest_seed_works():
    assert random_draws(2**63 - 1, 1, 2).shape == (1, 2, 2)
    assert FovEx(tiny_cnn(), seed=2**63 - 1).seed == 2**63 - 1


# ----------------------------------------------------------------- one positive-int check, one seed check


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda v: FovEx(tiny_cnn(), steps=v), "steps"),
        (lambda v: make_explainer("rise", tiny_cnn(), n_masks=v), "n_masks"),
        (lambda v: make_explainer("meaningful_perturbation", tiny_cnn(), iterations=v), "iterations"),
        (
            lambda v: __import__("fovex_lib.metrics", fromlist=["deletion"]).deletion(
                tiny_cnn(),
                torch.rand(1, 3, 16, 16, dtype=torch.float64),
                torch.rand(1, 1, 16, 16, dtype=torch.float64),
                0,
                batch_size=v,
            ),
            "batch_size",
        ),
        (lambda v: __import__("fovex_lib.datasets.synthetic", fromlist=["make_dataset"]).make_dataset(v, seed=0), "n"),
        (
            lambda v: __import__("fovex_lib.tools.stats", fromlist=["bootstrap_ci"]).bootstrap_ci([1.0, 2.0], n_boot=v),
            "n_boot",
        ),
    ],
)
def test_every_count_is_checked_the_same_way(call, name):
    """Not an int: TypeError; an int below the minimum: ValueError; both name the argument."""
    with pytest.raises(TypeError, match=rf"{name} must be an int >= \d+, got 2.5 \(float\)"):
        call(2.5)
    with pytest.raises(TypeError, match=rf"{name} must be an int"):
        call(True)
    with pytest.raises(ValueError, match=rf"{name} must be at least \d+, got -3"):
        call(-3)


def test_every_seed_is_checked_the_same_way():
    from fovex_lib.datasets.synthetic import make_dataset
    from fovex_lib.gaze.saliency_metrics import auc_judd
    from fovex_lib.tools.stats import bootstrap_ci

    maps, masks = torch.rand(1, 1, 8, 8), torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    masks[0, 0, 2, 3] = True
    for call in (
        lambda s: make_dataset(2, seed=s),
        lambda s: bootstrap_ci([1.0, 2.0], seed=s),
        lambda s: auc_judd(maps, masks, ties="jitter", seed=s),
    ):
        with pytest.raises(ValueError, match=r"seed must lie in \[0, 2\*\*63\)"):
            call(-1)
        with pytest.raises(TypeError, match=r"seed must be an int in \[0, 2\*\*63\)"):
            call(1.5)
