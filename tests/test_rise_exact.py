"""Deletion / insertion equal the RISE reference code (Petsiuk et al. 2018, eclique/RISE evaluation.py).

``rise_causal_metric`` below is written from the definition of RISE's ``CausalMetric.single_run``
(one image at a time, numpy, one forward pass per step): the model sees the normalised image
``z = (x - mean) / std`` and is followed by a softmax; the deletion substrate is
``torch.zeros_like(z)``; the insertion substrate is ``conv2d(z, gkern(11, 5), padding=5)`` with
``gkern`` built by ``scipy.ndimage.gaussian_filter``; pixels go in the order
``np.flip(np.argsort(saliency))`` (with a stable sort, our fixed tie order); the AUC is
``(sum - first / 2 - last / 2) / (len - 1)``. Our batched functions must reproduce its curves and
AUCs.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter

from fovex_lib.method.precision import with_precision
from fovex_lib.metrics import curve_auc, deletion, insertion, make_substrate, model_normalisation, rise_gaussian_kernel
from fovex_lib.models.zoo import ImageClassifier

from conftest import tiny_cnn

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
H, W = 24, 40  # not square, so rows and columns cannot be confused; HW = 960


class Scaled(torch.nn.Module):
    """Logits times a constant: tiny_cnn's raw logits (tens to hundreds) saturate the softmax."""

    def __init__(self, net, factor):
        super().__init__()
        self.net, self.factor = net, factor

    def forward(self, x):
        return self.net(x) * self.factor


def classifier(seed=0):
    """tiny_cnn (float64, logits scaled so that probabilities are not all 0 or 1) behind an
    ImageClassifier with ImageNet's mean / std."""
    return ImageClassifier(
        Scaled(tiny_cnn(seed=seed, classes=5), 0.03),
        MEAN,
        STD,
        [f"c{i}" for i in range(5)],
        input_size=(H, W),
        name=f"tiny{seed}",
    ).eval()


def gkern(klen, nsig):
    """RISE's gkern: a centred delta smoothed by scipy's gaussian_filter, on the diagonal of a 3x3 kernel."""
    delta = np.zeros((klen, klen))
    delta[klen // 2, klen // 2] = 1
    k = gaussian_filter(delta, nsig)
    kern = np.zeros((3, 3, klen, klen))
    for c in range(3):
        kern[c, c] = k
    return torch.from_numpy(kern.astype("float32"))


def rise_auc(arr):
    return (arr.sum() - arr[0] / 2 - arr[-1] / 2) / (arr.shape[0] - 1)


def rise_causal_metric(net, z, saliency, mode, step, substrate_fn, raster_first_ties=False):
    """One image (1, 3, H, W) normalised, its (H, W) saliency: RISE's scores at every step.

    ``raster_first_ties`` swaps in the other tie order (stable descending sort) for the control test.
    """
    hw = z.shape[-2] * z.shape[-1]
    softmax_net = torch.nn.Sequential(net, torch.nn.Softmax(dim=1))
    with torch.no_grad():
        c = int(softmax_net(z).argmax(1)[0])
        substrate = substrate_fn(z)
    start, finish = (z.clone(), substrate) if mode == "del" else (substrate, z.clone())
    start = start.numpy().reshape(3, hw).copy()
    finish = finish.numpy().reshape(3, hw)
    n_steps = (hw + step - 1) // step
    scores = np.empty(n_steps + 1)
    salient_order = np.flip(np.argsort(saliency.reshape(-1), kind="stable"))
    if raster_first_ties:
        salient_order = np.argsort(-saliency.reshape(-1), kind="stable")
    for i in range(n_steps + 1):
        with torch.no_grad():
            scores[i] = softmax_net(torch.from_numpy(start.reshape(z.shape)))[0, c].item()
        if i < n_steps:
            coords = salient_order[step * i : step * (i + 1)]
            start[:, coords] = finish[:, coords]
    return scores, c


def rise_reference(model, images, maps, mode, step, raster_first_ties=False):
    """RISE per image: (B, K + 1) scores, (B,) AUCs, (B,) top-1 classes."""
    kern = gkern(11, 5).double()
    substrate_fn = torch.zeros_like if mode == "del" else (lambda z: F.conv2d(z, kern, padding=11 // 2))
    rows, aucs, classes = [], [], []
    for x, m in zip(images, maps):
        z = (x[None] - model.mean) / model.std
        scores, c = rise_causal_metric(model.net, z, m[0].numpy(), mode, step, substrate_fn, raster_first_ties)
        rows.append(scores)
        aucs.append(rise_auc(scores))
        classes.append(c)
    return np.stack(rows), np.array(aucs), classes


@pytest.fixture
def images():
    return torch.rand(4, 3, H, W, generator=torch.Generator().manual_seed(7), dtype=torch.float64)


def saliency_maps(kind):
    gen = torch.Generator().manual_seed(11)
    maps = torch.rand(4, 1, H, W, generator=gen, dtype=torch.float64)
    if kind == "ties":  # 5 levels: long runs of tied pixels, the tie order decides
        maps = (maps * 4).round() / 4
    return maps


@pytest.mark.parametrize("maps_kind", ["continuous", "ties"])
# 96 divides HW = 960; 100 leaves a last step of 60; None = W (more steps: slow, make test-fast runs 100)
@pytest.mark.parametrize(
    "step", [pytest.param(96, marks=pytest.mark.slow), 100, pytest.param(None, marks=pytest.mark.slow)]
)
def test_curves_and_aucs_equal_rise(images, maps_kind, step):
    model = classifier()
    maps = saliency_maps(maps_kind)
    rise_step = W if step is None else step
    for fn, mode in ((deletion, "del"), (insertion, "ins")):
        ours = fn(model, images, maps, step=step, batch_size=13)
        want, want_auc, classes = rise_reference(model, images, maps, mode, rise_step)
        assert ours.targets.tolist() == classes
        assert ours.curves.shape == want.shape == (4, -(-H * W // rise_step) + 1)
        np.testing.assert_allclose(ours.curves.numpy(), want, rtol=0, atol=1e-6)
        np.testing.assert_allclose(ours.auc.numpy(), want_auc, rtol=0, atol=1e-6)
        assert ours.substrate == ("model_mean" if mode == "del" else "blur")
        # the abscissae are RISE's uniform k / K, and the AUC is the trapezoid rule on them
        n_steps = want.shape[1] - 1
        np.testing.assert_allclose(ours.fractions.numpy(), np.arange(n_steps + 1) / n_steps)
        trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy >= 2 renamed trapz
        np.testing.assert_allclose(ours.auc.numpy(), trapezoid(want, ours.fractions.numpy(), axis=1), atol=1e-12)


def test_rise_equality_is_not_trivial(images):
    """The reference notices the tie order and the AUC spacing (guards against a vacuous comparison)."""
    model = classifier()
    maps = saliency_maps("ties")
    ours = deletion(model, images, maps, step=100)
    # raster-first ties (the old order) give other curves
    other_ties, _, _ = rise_reference(model, images, maps, "del", 100, raster_first_ties=True)
    assert np.abs(ours.curves.numpy() - other_ties).max() > 1e-3
    # spacing by the true share of pixels changed gives another AUC when the last step is partial
    share = np.minimum(np.arange(11) * 100, H * W) / (H * W)
    trapezoid = getattr(np, "trapezoid", None) or np.trapz
    assert np.abs(trapezoid(ours.curves.numpy(), share, axis=1) - ours.auc.numpy()).max() > 1e-4


def test_kernel_equals_scipy_gkern():
    for klen, nsig in ((11, 5.0), (11, 5), (3, 1.0), (21, 4.0), (5, 0.3), (1, 2.0)):
        np.testing.assert_array_equal(rise_gaussian_kernel(klen, nsig).numpy(), gkern(klen, nsig)[0, 0].numpy())
    with pytest.raises(ValueError, match="odd"):
        rise_gaussian_kernel(10, 5.0)
    with pytest.raises(ValueError, match="positive"):
        rise_gaussian_kernel(11, 0.0)


def test_blur_substrate_is_padded_with_the_model_mean_colour(images):
    """Blur in normalised space with zero padding = blur in [0, 1] space with mean-colour padding."""
    model = classifier()
    blurred = make_substrate(images, "blur", model)
    r = 11 // 2
    mean = model.mean.double()
    padded = mean.expand(4, 3, H + 2 * r, W + 2 * r).clone()
    padded[..., r : r + H, r : r + W] = images
    kernel = rise_gaussian_kernel(11, 5.0).double().expand(3, 1, 11, 11)
    by_mean_padding = F.conv2d(padded, kernel, groups=3)
    torch.testing.assert_close(blurred, by_mean_padding, rtol=0, atol=1e-6)
    # a blur in [0, 1] space with zero (black) padding differs at the borders, not inside
    by_zero_padding = F.conv2d(images, kernel, padding=r, groups=3)
    assert (blurred - by_zero_padding)[..., 0, 0].abs().min() > 0.05
    torch.testing.assert_close(blurred[..., r:-r, r:-r], by_zero_padding[..., r:-r, r:-r], rtol=0, atol=1e-6)
    # and the insertion curve starts from exactly this image
    maps = saliency_maps("continuous")
    curve = insertion(model, images, maps, targets=[0, 1, 2, 3], step=480)
    with torch.no_grad():
        start = torch.softmax(model(by_mean_padding), 1)[torch.arange(4), torch.arange(4)]
    np.testing.assert_allclose(curve.curves[:, 0].numpy(), start.numpy(), atol=1e-6)


def test_model_mean_substrate_is_zero_in_normalised_space(images):
    model = classifier()
    sub = make_substrate(images, "model_mean", model)
    assert torch.equal(sub, model.mean.double().expand_as(images))
    assert ((sub - model.mean) / model.std).abs().max() == 0


def test_batch_invariance(images):
    model = classifier(seed=3)
    maps = saliency_maps("ties")
    targets = [0, 4, 2, 1]
    for fn in (deletion, insertion):
        together = fn(model, images, maps, targets, step=100, batch_size=7)
        for b in range(4):
            alone = fn(model, images[b : b + 1], maps[b : b + 1], targets[b], step=100, batch_size=64)
            torch.testing.assert_close(alone.curves[0], together.curves[b], rtol=0, atol=1e-12)
            torch.testing.assert_close(alone.auc[0], together.auc[b], rtol=0, atol=1e-12)


def test_normalisation_is_found_through_wrappers(images):
    model = classifier()
    mean, std = model_normalisation(with_precision(model, None, channels_last=True))  # ReducedPrecision.model
    assert torch.equal(mean, model.mean) and torch.equal(std, model.std)
    parallel = torch.nn.DataParallel(model)  # .module
    assert torch.equal(model_normalisation(parallel)[0], model.mean)
    maps = saliency_maps("continuous")
    wrapped = insertion(with_precision(model, None, channels_last=True), images, maps, step=480)
    plain = insertion(model, images, maps, step=480)
    torch.testing.assert_close(wrapped.curves, plain.curves, rtol=0, atol=1e-6)


def test_model_without_mean_std_is_a_clear_error(images):
    bare = tiny_cnn()
    maps = saliency_maps("continuous")
    with pytest.raises(ValueError, match=r"no 'mean' / 'std'.*substrate='black'"):
        deletion(bare, images, maps)
    with pytest.raises(ValueError, match="no 'mean' / 'std'"):
        insertion(bare, images, maps)
    with pytest.raises(ValueError, match="pass the model"):
        make_substrate(images, "blur")
    with pytest.raises(ValueError, match="substrate must be one of"):
        make_substrate(images, "grey", classifier())
    with pytest.raises(ValueError, match="odd"):
        insertion(classifier(), images, maps, blur_kernel_size=4)
    # "black", "mean" and tensors need no model normalisation
    for name in ("black", "mean"):
        assert deletion(bare, images, maps, step=480, substrate=name).substrate == name
        assert insertion(bare, images, maps, step=480, substrate=name).substrate == name
    assert insertion(bare, images, maps, step=480, substrate=torch.zeros_like(images)).substrate == "tensor"


def test_black_and_mean_substrates(images):
    model = classifier()
    assert torch.equal(make_substrate(images, "black"), torch.zeros_like(images))
    mean = make_substrate(images, "mean")
    assert torch.allclose(mean[:, :, 3, 5], images.mean((2, 3)))
    assert torch.equal(mean[:, :, 0, 0], mean[:, :, -1, -1])
    maps = saliency_maps("continuous")
    # deletion to black ends on the black image, insertion from the mean colour starts there
    d = deletion(model, images, maps, [0, 1, 2, 3], step=480, substrate="black")
    i = insertion(model, images, maps, [0, 1, 2, 3], step=480, substrate="mean")
    with torch.no_grad():
        p_black = torch.softmax(model(torch.zeros_like(images)), 1).diagonal()
        p_mean = torch.softmax(model(mean), 1).diagonal()
    np.testing.assert_allclose(d.curves[:, -1].numpy(), p_black.numpy(), atol=1e-12)
    np.testing.assert_allclose(i.curves[:, 0].numpy(), p_mean.numpy(), atol=1e-12)


def test_curve_auc_is_rises_formula():
    p = torch.tensor([[0.9, 0.5, 0.4, 0.1], [1.0, 1.0, 1.0, 1.0]], dtype=torch.float64)
    assert curve_auc(p).tolist() == pytest.approx([rise_auc(p[0].numpy()), 1.0])
    with pytest.raises(ValueError, match="2 points"):
        curve_auc(torch.ones(3, 1))
