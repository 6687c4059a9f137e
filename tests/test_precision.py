"""bf16 autocast and channels-last for FovEx and the metrics: opt-in, and within a documented tolerance of fp32.

Documented tolerance (fovex_lib.method.fixations, appendix B), measured here on CPU:

* one evaluation (same foveated input): the cross-entropy under bf16 autocast is within
  2 % (median relative error) and 0.1 (max absolute error) of fp32, and the sign of
  d loss / d position agrees for at least 95 % of the coordinates;
* a whole run: sign-gradient steps are discrete, so once one step flips, the scanpath
  goes its own way; individual maps may then differ. Over a data set the results
  agree: on the synthetic CNN (32 test images) the share of maps whose peak lies in the
  evidence box differs by at most 0.1, the median correlation between the fp32 and
  bf16 maps is at least 0.9, and at least 75 % of first fixations are identical.
"""

import pytest
import torch
import torch.nn.functional as F

from fovex_lib.datasets.synthetic import load_split
from fovex_lib.method.foveation import gaussian_blur
from fovex_lib.method.fovex import FovEx
from fovex_lib.method.memory import foveate_with_memory
from fovex_lib.method.precision import ReducedPrecision, check_autocast_dtype, model_precision, with_precision
from fovex_lib.metrics import deletion, drop_increase, insertion
from fovex_lib.models.zoo import load_model

from conftest import tiny_cnn

SYNTH = dict(blur_kernel_size=21, blur_sigma=4.0, heatmap_sigma=0.05, seed=0)


@pytest.fixture(scope="module")
def data():
    return load_split("test", 32)


def test_options_are_validated():
    assert check_autocast_dtype(None) is None and check_autocast_dtype("fp32") is None
    assert check_autocast_dtype("bf16") is torch.bfloat16 and check_autocast_dtype(torch.float16) is torch.float16
    with pytest.raises(ValueError, match="autocast_dtype"):
        check_autocast_dtype("int8")
    with pytest.raises(ValueError, match="autocast_dtype"):
        check_autocast_dtype(torch.int8)
    with pytest.raises(TypeError, match="channels_last"):
        FovEx(tiny_cnn(), channels_last="yes")


def test_autocast_really_runs_the_model_in_bf16(noise_images):
    model = tiny_cnn(dtype=torch.float32)
    seen = []
    model[-1].register_forward_hook(lambda module, inputs, output: seen.append(output.dtype))
    images = noise_images.float()
    FovEx(model, scanpath_length=1, steps=2, blur_kernel_size=5, blur_sigma=2.0)(images)
    assert set(seen) == {torch.float32}
    seen.clear()
    out = FovEx(model, scanpath_length=1, steps=2, blur_kernel_size=5, blur_sigma=2.0, autocast_dtype="bf16")(images)
    assert set(seen[1:]) == {torch.bfloat16}  # seen[0]: the fp32 prediction of the target
    assert out.saliency.dtype == torch.float32 and out.scanpath.dtype == torch.float32


@pytest.mark.slow
def test_channels_last_gives_the_same_scanpath(noise_images):
    kwargs = dict(scanpath_length=3, steps=4, blur_kernel_size=5, blur_sigma=2.0, seed=3)
    plain = FovEx(tiny_cnn(), **kwargs)(noise_images, 1)
    model = tiny_cnn()
    fast = FovEx(model, channels_last=True, **kwargs)(noise_images, 1)
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(plain.scanpath, fast.scanpath)
    torch.testing.assert_close(fast.saliency, plain.saliency, rtol=0, atol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["synthetic_cnn", "synthetic_vit"])
def test_one_evaluation_is_within_tolerance(name, data):
    model = load_model(name)
    images, labels = data.images, data.labels
    positions = torch.rand(len(images), 2, generator=torch.Generator().manual_seed(1)) * 2 - 1
    blurred = gaussian_blur(images, 21, 4.0)
    results = []
    for dtype in (None, torch.bfloat16):
        pos = positions.clone().requires_grad_(True)
        with model_precision(torch.device("cpu"), dtype):
            logits = model(foveate_with_memory(images, blurred, None, pos, 0.15))
        loss = F.cross_entropy(logits.float(), labels, reduction="none")
        (grad,) = torch.autograd.grad(loss.sum(), pos)
        results.append((loss.detach(), grad))
    (loss32, grad32), (loss16, grad16) = results
    error = (loss32 - loss16).abs()
    assert not torch.equal(loss32, loss16)  # bf16 really ran
    assert (error / loss32.abs().clamp_min(1e-3)).median() < 0.02
    assert error.max() < 0.1
    assert (torch.sign(grad32) == torch.sign(grad16)).float().mean() >= 0.95


@pytest.mark.slow
def test_whole_runs_agree_over_a_data_set(data):
    model = load_model("synthetic_cnn")
    kwargs = dict(scanpath_length=3, steps=6, **SYNTH)
    a = FovEx(model, **kwargs)(data.images, data.labels)
    b = FovEx(model, autocast_dtype=torch.bfloat16, **kwargs)(data.images, data.labels)
    box = data.box_masks().flatten(1)

    def hit_rate(maps):
        peak = maps.flatten(1).argmax(1)
        return box[torch.arange(len(peak)), peak].float().mean()

    fa = a.saliency.flatten(1) - a.saliency.flatten(1).mean(1, keepdim=True)
    fb = b.saliency.flatten(1) - b.saliency.flatten(1).mean(1, keepdim=True)
    correlation = (fa * fb).sum(1) / (fa.norm(dim=1) * fb.norm(dim=1))
    first_same = (a.scanpath[:, 0] - b.scanpath[:, 0]).norm(dim=-1) < 1e-6
    assert abs(hit_rate(a.saliency) - hit_rate(b.saliency)) <= 0.1
    assert correlation.median() >= 0.9
    assert first_same.float().mean() >= 0.75


def test_default_is_float32_and_unchanged_by_the_new_arguments(noise_images):
    """autocast_dtype=None / "fp32" and channels_last=False search with the model itself: bit-identical runs."""
    model = tiny_cnn(dtype=torch.float32)
    images = noise_images.float()
    kwargs = dict(scanpath_length=2, steps=3, blur_kernel_size=5, blur_sigma=2.0, seed=1)
    explainer = FovEx(model, autocast_dtype="fp32", channels_last=False, **kwargs)
    assert explainer.search_model is model
    old = FovEx(model, **kwargs)(images, [0, 1, 2])
    new = explainer(images, [0, 1, 2])
    assert torch.equal(old.scanpath, new.scanpath) and torch.equal(old.search.step_losses, new.search.step_losses)


# ---------------------------------------------------------------- the metrics (ReducedPrecision wrapper)
# Documented tolerance (fovex_lib.method.precision, appendix B): under bf16 the target's softmax
# score moves by at most 0.01 on any image and curve point, deletion / insertion AUCs by at
# most 0.005, and the average % drop by at most 0.5 points (measured with RISE's substrates: 0.0065, 0.0012, 0.02).


def test_wrapper_runs_in_bf16_returns_float32_and_names_its_precision():
    model = load_model("synthetic_cnn")
    seen = []
    hook = model.net.features[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    try:
        fast = with_precision(model, "bf16", channels_last=True)
        x = load_split("test", 2).images
        logits = fast(x)
    finally:
        hook.remove()
        model.to(memory_format=torch.contiguous_format)
    assert seen == [torch.bfloat16] and logits.dtype == torch.float32
    assert isinstance(fast, ReducedPrecision) and fast.name == "synthetic_cnn[bf16,channels_last]"
    assert fast.class_names == model.class_names
    assert with_precision(model, "fp32") is model  # nothing asked for: the model itself
    with pytest.raises(TypeError, match="nn.Module"):
        with_precision("resnet50", "bf16")
    with pytest.raises(ValueError, match="autocast_dtype"):
        ReducedPrecision(model, "int8")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["synthetic_cnn", "synthetic_vit"])
def test_metrics_under_bf16_are_within_tolerance(name, data):
    model = load_model(name)
    images, labels = data.images[:16], data.labels[:16]
    noise = torch.rand(16, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    maps = data.box_masks()[:16].float() * 0.8 + 0.1 * noise
    fast = ReducedPrecision(model, "bf16")
    results = {}
    for key, net in (("fp32", model), ("bf16", fast)):
        di = drop_increase(net, images, maps, labels)
        results[key] = (
            di,
            deletion(net, images, maps, labels, step=256),
            insertion(net, images, maps, labels, step=256),
        )
    (di32, del32, ins32), (di16, del16, ins16) = results["fp32"], results["bf16"]
    assert not torch.equal(di32.scores, di16.scores)  # bf16 really ran
    assert (di32.scores - di16.scores).abs().max() <= 0.01
    assert (del32.curves - del16.curves).abs().max() <= 0.01
    assert (del32.auc - del16.auc).abs().max() <= 0.005
    assert (ins32.auc - ins16.auc).abs().max() <= 0.005
    assert abs(di32.average_drop - di16.average_drop) <= 0.5


def test_channels_last_wrapper_changes_nothing_but_layout(noise_images):
    model = tiny_cnn(dtype=torch.float32)
    images = noise_images.float()
    maps = torch.rand(3, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    # tiny_cnn has no mean / std, so not the default (model-mean) substrate: black
    plain = deletion(model, images, maps, 0, step=512, substrate="black").curves
    fast = deletion(
        with_precision(tiny_cnn(dtype=torch.float32), None, channels_last=True),
        images,
        maps,
        0,
        step=512,
        substrate="black",
    ).curves
    torch.testing.assert_close(fast, plain, rtol=0, atol=1e-6)
