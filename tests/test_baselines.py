"""Baselines (fovex_lib.baselines) against independent computations.

* Grad-CAM / Grad-CAM++ on tiny conv nets whose gradients are known analytically
  (global average pooling + linear head: dy_c/dA_k(i, j) = w_ck / (h w)).
* RISE and Meaningful Perturbation on models whose output depends on one known box only.
* GAE and class-embedding projection on the small ViT against slow reference loops
  written here from the papers' formulas (a hand-written ViT forward pass; finite
  differences for the class-embedding gradients).
* Batched == one-at-a-time for every method; clear errors where a method does not apply.
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fovex_lib.baselines import default_target_layers
from fovex_lib.baselines.rise import rise_masks
from fovex_lib.datasets.synthetic import load_split
from fovex_lib.models.zoo import load_model
from fovex_lib.registry import METHODS, PRESETS, applicable_methods, list_methods, make_explainer

torch.set_num_threads(2)


# ---------------------------------------------------------------- helpers / fixtures


def _minmax(x):
    flat = x.flatten(1)
    lo = flat.min(1).values.view(-1, 1, 1, 1)
    hi = flat.max(1).values.view(-1, 1, 1, 1)
    return (x - lo) / (hi - lo)


class GapNet(nn.Module):
    """conv -> ReLU (the CAM target layer) -> global average pooling -> linear."""

    def __init__(self, stride=1, seed=0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.conv = nn.Conv2d(3, 6, 3, stride=stride, padding=1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(6, 4)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen))
        self.eval()

    def forward(self, x):
        return self.fc(self.relu(self.conv(x)).mean(dim=(2, 3)))


class BoxModel(nn.Module):
    """Two classes; class 0's logit is ``gain * (statistic of the box - offset)``.

    ``kind="mean"``: the mean intensity inside the box (RISE: hiding the box lowers it).
    ``kind="energy"``: squared differences of neighbouring pixels inside the box
    (blurring the box removes it: Meaningful Perturbation).
    Nothing outside the box matters.
    """

    def __init__(self, box, kind, gain, offset):
        super().__init__()
        self.box, self.kind, self.gain, self.offset = box, kind, gain, offset
        self.dummy = nn.Parameter(torch.zeros(()))  # gives the model a device and a parameter

    def forward(self, x):
        top, left, bottom, right = self.box
        region = x[:, :, top:bottom, left:right]
        if self.kind == "mean":
            stat = region.mean(dim=(1, 2, 3))
        else:
            stat = (region[..., 1:, :] - region[..., :-1, :]).pow(2).mean((1, 2, 3)) + (
                region[..., :, 1:] - region[..., :, :-1]
            ).pow(2).mean((1, 2, 3))
        score = self.gain * (stat - self.offset) + self.dummy
        return torch.stack([score, torch.zeros_like(score)], dim=1)


BOX = (16, 36, 32, 52)  # top, left, bottom, right in a 64 x 64 image


def _box_mask(size=64):
    mask = torch.zeros(size, size, dtype=torch.bool)
    top, left, bottom, right = BOX
    mask[top:bottom, left:right] = True
    return mask


@pytest.fixture(scope="module")
def small_cnn():
    return load_model("synthetic_cnn")


@pytest.fixture(scope="module")
def small_vit():
    return load_model("synthetic_vit")


@pytest.fixture(scope="module")
def synthetic_images():
    return load_split("test", 3).images


# ---------------------------------------------------------------- Grad-CAM family


@pytest.mark.parametrize("stride", [1, 2])
def test_gradcam_matches_hand_computed_cam(stride):
    model = GapNet(stride)
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    target = [1, 3]
    out = make_explainer("gradcam", model, target_layers=[model.relu])(x, target=target)

    with torch.no_grad():
        acts = model.relu(model.conv(x))  # (B, K, h, w)
        h, w = acts.shape[-2:]
        alpha = model.fc.weight[target] / (h * w)  # dy_c / dA_k(i, j), the same at every (i, j)
        cam = torch.relu((alpha[:, :, None, None] * acts).sum(1, keepdim=True))
        cam = _minmax(cam)
        if stride > 1:
            cam = _minmax(F.interpolate(cam, size=(64, 64), mode="bilinear", align_corners=False))
    assert out.saliency.shape == (2, 1, 64, 64)
    assert out.targets.tolist() == target
    torch.testing.assert_close(out.saliency, cam, atol=2e-4, rtol=0)


def test_gradcam_plus_plus_matches_closed_form():
    model = GapNet(1, seed=3)
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    out = make_explainer("gradcam++", model, target_layers=[model.relu])(x, target=2)
    with torch.no_grad():
        acts = model.relu(model.conv(x))[0].double()  # (K, h, w)
        h, w = acts.shape[-2:]
        weights = []
        for k in range(acts.shape[0]):  # Chattopadhay et al. eq. 19 with a constant gradient g per channel
            g = float(model.fc.weight[2, k]) / (h * w)
            a = g**2 / (2 * g**2 + acts[k].sum() * g**3 + 1e-6)
            weights.append(max(g, 0.0) * a * h * w)
        cam = torch.relu(sum(wk * acts[k] for k, wk in enumerate(weights)))
        expected = _minmax(cam[None, None]).float()
    torch.testing.assert_close(out.saliency, expected, atol=2e-4, rtol=0)


def test_random_cam_ignores_the_target_and_follows_its_seed(small_cnn, synthetic_images):
    x = synthetic_images[:1]
    first = make_explainer("random_cam", small_cnn, seed=1)(x, target=0).saliency
    again = make_explainer("random_cam", small_cnn, seed=1)(x, target=4).saliency
    other = make_explainer("random_cam", small_cnn, seed=2)(x, target=0).saliency
    torch.testing.assert_close(first, again)  # random weights: no link to the class
    assert (first - other).abs().max() > 1e-3


def test_cam_leaves_no_gradients_or_hooks(small_cnn, synthetic_images):
    make_explainer("gradcam", small_cnn)(synthetic_images[:1])
    assert all(p.grad is None and p.requires_grad for p in small_cnn.parameters())
    assert not any(m._forward_hooks for m in small_cnn.modules())
    assert not small_cnn.training


def test_default_target_layers():
    cnn = load_model("synthetic_cnn", pretrained=False)
    assert default_target_layers(cnn)[0][0] is cnn.net.features[-1]
    eff = load_model("efficientnet_lite0", pretrained=False)
    assert default_target_layers(eff)[0][0] is eff.net.bn2
    res = load_model("resnet50", pretrained=False)
    assert default_target_layers(res)[0][0] is res.net.layer4[-1]
    vit = load_model("synthetic_vit", pretrained=False)
    layers, reshape = default_target_layers(vit)
    assert layers[0] is vit.net.blocks[-1].norm1
    tokens = torch.arange(2 * 65 * 3, dtype=torch.float32).view(2, 65, 3)
    maps = reshape(tokens)  # class token dropped, 64 patches -> 8 x 8, row-major
    assert maps.shape == (2, 3, 8, 8)
    torch.testing.assert_close(maps[1, :, 2, 5], tokens[1, 1 + 2 * 8 + 5])


# ---------------------------------------------------------------- RISE


def test_rise_masks_statistics_and_chunks():
    masks = rise_masks(400, (64, 64), grid_size=7, p=0.5, seed=0)
    assert masks.shape == (400, 1, 64, 64)
    assert masks.min() >= 0 and masks.max() <= 1
    assert abs(masks.mean().item() - 0.5) < 0.03  # each cell is kept with probability p
    torch.testing.assert_close(rise_masks(400, (64, 64), seed=0, start=100, stop=250), masks[100:250])
    assert not torch.equal(rise_masks(400, (64, 64), seed=1), masks)


def test_rise_peaks_in_the_only_region_that_matters():
    model = BoxModel(BOX, "mean", gain=8.0, offset=0.25)
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 0.5 + 0.25
    sal = make_explainer("rise", model, n_masks=400, seed=0)(x, target=0).saliency[0, 0]
    inside = _box_mask()
    peak = divmod(int(sal.argmax()), 64)
    assert inside[peak]
    assert sal[inside].mean() > sal[~inside].mean() + 0.3


def test_rise_rejects_bad_settings(small_cnn):
    with pytest.raises(ValueError, match="n_masks"):
        make_explainer("rise", small_cnn, n_masks=0)
    with pytest.raises(ValueError, match="fill"):
        make_explainer("rise", small_cnn, fill=2.0)


# ---------------------------------------------------------------- Meaningful Perturbation


def test_meaningful_perturbation_deletes_the_known_region():
    # Noise has neighbour energy ~ 1/3; blurred, ~ 0: the logit goes from +2 to -2.
    model = BoxModel(BOX, "energy", gain=12.0, offset=1 / 6)
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    explainer = make_explainer("meaningful_perturbation", model, iterations=150)
    sal = explainer(x, target=0).saliency[0, 0]
    inside = _box_mask()
    assert sal[inside].mean() > 0.9  # the box is blurred away ...
    assert sal[inside].mean() > sal[~inside].mean() + 0.4  # ... much more than the rest
    assert sal[56:, :8].max() < 0.05  # the far corner is kept
    # deleting only the box is enough: the blurred image's score is low
    with torch.no_grad():
        logits = model(x * (1 - sal) + explainer_blur(x) * sal)
    assert logits.softmax(1)[0, 0] < 0.2


def explainer_blur(x):
    from fovex_lib.method.foveation import gaussian_blur

    return gaussian_blur(x, 41, 10.0)


# ---------------------------------------------------------------- ViT methods: reference loops


def _manual_vit(vit, x):
    """The timm ViT forward pass written out by hand; returns logits, attention matrices
    (each (heads, N, N), requiring grad) and each block's attention-branch output."""
    tokens = vit.patch_embed(x)
    tokens = torch.cat([vit.cls_token.expand(x.shape[0], -1, -1), tokens], dim=1) + vit.pos_embed
    attns, branches = [], []
    for blk in vit.blocks:
        h = blk.norm1(tokens)
        batch, n, dim = h.shape
        heads = blk.attn.num_heads
        q, k, v = blk.attn.qkv(h).reshape(batch, n, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
        attn = ((q @ k.transpose(-2, -1)) * (dim // heads) ** -0.5).softmax(-1)
        attns.append(attn)
        branch = blk.attn.proj((attn @ v).transpose(1, 2).reshape(batch, n, dim))
        branches.append(branch)
        tokens = tokens + branch
        tokens = tokens + blk.mlp(blk.norm2(tokens))
    return vit.head(vit.norm(tokens)[:, 0]), attns, branches


def test_manual_vit_matches_the_model(small_vit, synthetic_images):
    x = synthetic_images[:2]
    with torch.no_grad():
        logits, _, _ = _manual_vit(small_vit.net, (x - 0.5) / 0.5)
        torch.testing.assert_close(logits, small_vit(x), atol=1e-4, rtol=1e-4)


def test_gae_matches_reference_loop(small_vit, synthetic_images):
    vit = small_vit.net
    x = synthetic_images[:2]
    out = make_explainer("gae", small_vit)(x)
    for b in range(2):
        logits, attns, _ = _manual_vit(vit, (x[b : b + 1] - 0.5) / 0.5)
        target = int(logits.argmax())
        grads = torch.autograd.grad(logits[0, target], attns)
        n = attns[0].shape[-1]
        relevance = torch.eye(n)
        for attn, grad in zip(attns, grads):  # Chefer et al. 2021, eqs. 5-6
            heads = attn.shape[1]
            a_bar = torch.zeros(n, n)
            for head in range(heads):
                a_bar += torch.clamp(grad[0, head] * attn[0, head], min=0) / heads
            relevance = relevance + a_bar @ relevance
        expected = relevance[0, 1:].detach().view(8, 8)
        assert out.targets[b] == target
        torch.testing.assert_close(out.token_map[b, 0], expected, atol=1e-5, rtol=1e-4)
        up = F.interpolate(expected[None, None], size=(64, 64), mode="bilinear", align_corners=False)
        torch.testing.assert_close(out.saliency[b : b + 1], _minmax(up), atol=1e-5, rtol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("double_softmax", [True, False])
def test_cls_embedding_matches_finite_differences(small_vit, synthetic_images, double_softmax):
    """d l_b / d A_b[h, cls, j] by central differences in float64, one entry at a time."""
    x = synthetic_images[1:2]
    out = make_explainer("cls_embedding", small_vit, double_softmax=double_softmax)(x)
    target = int(out.targets[0])
    vit64 = load_model("synthetic_vit").net.double()
    with torch.no_grad():
        _, attns, _ = _manual_vit(vit64, ((x - 0.5) / 0.5).double())
        # values entering each block's attention: recompute them with a hooked-free second pass
        tokens = vit64.patch_embed(((x - 0.5) / 0.5).double())
        tokens = torch.cat([vit64.cls_token, tokens], dim=1) + vit64.pos_embed
        expected = torch.zeros(64, dtype=torch.float64)
        eps = 1e-6
        for blk, attn in zip(vit64.blocks, attns):
            h = blk.norm1(tokens)
            _, n, dim = h.shape
            heads = blk.attn.num_heads
            v = blk.attn.qkv(h).reshape(1, n, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)[2][0]  # (H, N, d)
            cls_row = attn[0, :, 0, :].clone()  # (H, N): the class token's attention

            def loss(row):
                branch = blk.attn.proj((row[:, None, :] @ v).reshape(1, dim))  # noqa: B023 (called in this pass)
                scores = vit64.head(vit64.norm(branch))
                if double_softmax:
                    scores = scores.softmax(-1)
                return -scores.log_softmax(-1)[0, target]

            for head in range(heads):
                for j in range(1, n):
                    up, down = cls_row.clone(), cls_row.clone()
                    up[head, j] += eps
                    down[head, j] -= eps
                    expected[j - 1] -= (loss(up) - loss(down)) / (2 * eps)
            branch = blk.attn.proj((attn @ v[None]).transpose(1, 2).reshape(1, n, dim))
            tokens = tokens + branch
            tokens = tokens + blk.mlp(blk.norm2(tokens))
    got = out.token_map[0, 0].flatten().double()
    torch.testing.assert_close(got, expected, atol=1e-5 * float(expected.abs().max()) + 1e-7, rtol=1e-3)


def test_vit_methods_restore_fused_attention(small_vit, synthetic_images):
    vit = small_vit.net
    before = [blk.attn.fused_attn for blk in vit.blocks]
    for name in ("gae", "cls_embedding"):
        make_explainer(name, small_vit)(synthetic_images[:1])
        assert [blk.attn.fused_attn for blk in vit.blocks] == before
        assert not any(m._forward_hooks for m in vit.modules())


# ---------------------------------------------------------------- every method: interface and batching

TINY = {
    "fovex": {"scanpath_length": 2, "steps": 3},
    "rise": {"n_masks": 60, "batch_size": 32},
    "meaningful_perturbation": {"iterations": 8},
}


@pytest.mark.slow
@pytest.mark.parametrize("model_name", ["synthetic_cnn", "synthetic_vit"])
def test_batched_equals_one_at_a_time(model_name, synthetic_images, small_cnn, small_vit):
    model = small_cnn if model_name == "synthetic_cnn" else small_vit
    names = applicable_methods(model)
    assert set(names) == set(list_methods()) - ({"gae", "cls_embedding"} if model_name == "synthetic_cnn" else set())
    targets = [1, 4, 2]
    for name in names:
        explainer = make_explainer(name, model, **TINY.get(name, {}), seed=5)
        batched = explainer(synthetic_images, target=targets)
        assert batched.saliency.shape == (3, 1, 64, 64), name
        assert batched.saliency.min() >= 0 and batched.saliency.max() <= 1, name
        assert batched.saliency.device == synthetic_images.device
        for i in range(3):
            single = explainer(synthetic_images[i : i + 1], target=targets[i])
            torch.testing.assert_close(
                single.saliency,
                batched.saliency[i : i + 1],
                atol=1e-4,
                rtol=1e-4,
                msg=lambda m: f"{name}, image {i}: {m}",  # noqa: B023
            )


# ---------------------------------------------------------------- registry and errors


def test_registry_describes_every_method():
    assert list_methods() == [
        "fovex",
        "gradcam",
        "gradcam++",
        "random_cam",
        "rise",
        "meaningful_perturbation",
        "gae",
        "cls_embedding",
    ]
    for info in METHODS.values():
        assert info.display_name and info.paper and info.applies_to
    assert all(set(table) <= set(METHODS) for table in PRESETS.values())


@pytest.mark.parametrize("name", ["gae", "cls_embedding"])
def test_vit_only_methods_refuse_cnns(name, small_cnn):
    with pytest.raises(ValueError, match="ViT|Vision Transformer"):
        make_explainer(name, small_cnn)


def test_cam_methods_refuse_models_without_feature_maps():
    model = BoxModel(BOX, "mean", 1.0, 0.0)
    assert applicable_methods(model) == ["fovex", "rise", "meaningful_perturbation"]
    for name in ("gradcam", "gradcam++", "random_cam"):
        with pytest.raises(ValueError, match="target_layers"):
            make_explainer(name, model)


def test_bad_names_and_settings(small_cnn):
    with pytest.raises(ValueError, match="unknown method"):
        make_explainer("lime", small_cnn)
    with pytest.raises(TypeError, match="n_masks"):
        make_explainer("gradcam", small_cnn, n_masks=10)
    with pytest.raises(TypeError):
        make_explainer("rise", small_cnn, seed=1.5)
    with pytest.raises(ValueError, match="module of the model"):
        make_explainer("gradcam", small_cnn, target_layers=[nn.Conv2d(1, 1, 1)])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        make_explainer("rise", small_cnn)(torch.full((1, 3, 64, 64), 2.0))


def test_vit_classes_refuse_cnns_directly(small_cnn):
    from fovex_lib.baselines import GAE, ClassEmbeddingProjection

    for cls in (GAE, ClassEmbeddingProjection):
        with pytest.raises(ValueError, match="VisionTransformer"):
            cls(small_cnn)
