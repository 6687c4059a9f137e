"""The CUDA paths: FovEx, the baselines and the metrics on a GPU agree with the CPU.

Skipped where no CUDA GPU is present (CI has none); run on a GPU machine with
``pytest -s tests/test_cuda.py`` (``-s`` shows the measured differences).
"""

import pytest
import torch

from fovex_lib import FovEx, load_image, load_model, make_explainer
from fovex_lib.metrics import deletion, drop_increase, insertion

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module", autouse=True)
def true_float32():
    """PyTorch runs convolutions in TF32 on recent GPUs by default (about 1e-2 off in the
    logits); these comparisons are about our code, so they run in true float32."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@pytest.fixture(scope="module")
def models_and_images():
    cpu = load_model("efficientnet_lite0")
    gpu = load_model("efficientnet_lite0").to("cuda")
    images = torch.cat([load_image(name) for name in ("coffee", "chelsea", "rocket", "china")])
    return cpu, gpu, images


def test_the_model_gives_the_same_logits_on_cuda(models_and_images):
    cpu, gpu, images = models_and_images
    with torch.no_grad():
        a, b = cpu(images), gpu(images.cuda()).cpu()
    print(f"logits: largest |cpu - cuda| {(a - b).abs().max().item():.2e}")
    torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("dtype", [None, "bf16"])
def test_fovex_on_cuda(models_and_images, dtype):
    cpu, gpu, images = models_and_images
    settings = dict(scanpath_length=3, steps=5, seed=0)
    reference = FovEx(cpu, **settings)(images)
    out = FovEx(gpu, autocast_dtype=dtype, channels_last=dtype is not None, **settings)(images.cuda())
    assert out.saliency.device.type == "cuda" and out.saliency.shape == reference.saliency.shape
    assert torch.isfinite(out.saliency).all()
    assert torch.equal(out.targets.cpu(), reference.targets)
    map_gap = (out.saliency.cpu() - reference.saliency).abs().max().item()
    path_gap = (out.scanpath.cpu() - reference.scanpath).abs().max().item()
    print(f"FovEx {dtype or 'fp32'}: largest map gap {map_gap:.2e}, largest fixation gap {path_gap:.2e}")
    if dtype is None:  # fp32: the sign-gradient search follows the same path
        assert map_gap < 1e-2, map_gap


@pytest.mark.parametrize("name", ["gradcam", "gradcam++", "random_cam", "rise", "meaningful_perturbation"])
def test_baselines_on_cuda(models_and_images, name):
    cpu, gpu, images = models_and_images
    settings = dict(preset="quick", seed=0)
    reference = make_explainer(name, cpu, **settings)(images)
    out = make_explainer(name, gpu, **settings)(images.cuda())
    assert out.saliency.device.type == "cuda" and torch.isfinite(out.saliency).all()
    gap = (out.saliency.cpu() - reference.saliency).abs().max().item()
    print(f"{name}: largest map gap cpu vs cuda {gap:.2e}")
    if name != "meaningful_perturbation":  # MP's first Adam steps follow the sign of tiny gradients
        assert gap < 1e-2, gap


def test_metrics_on_cuda(models_and_images):
    cpu, gpu, images = models_and_images
    maps = torch.rand(images.shape[0], 1, 224, 224, generator=torch.Generator().manual_seed(0))
    for metric in (deletion, insertion, drop_increase):
        a = metric(cpu, images, maps).values
        b = metric(gpu, images.cuda(), maps.cuda()).values.cpu()
        print(f"{metric.__name__}: largest |cpu - cuda| {(a - b).abs().max().item():.2e}")
        torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-4)
