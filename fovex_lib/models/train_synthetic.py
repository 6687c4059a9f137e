"""Train the two small models on the synthetic evidence data set.

Reproduces the committed weights ``fovex_lib/data/synthetic_{cnn,vit}.safetensors``::

    python -m fovex_lib.models.train_synthetic                 # both models, seed 0
    python -m fovex_lib.models.train_synthetic --model vit --seed 1 --out /tmp/weights

Training images are generated once per run (``--train-size`` images in chunks of
2048, chunk ``k`` from seed :func:`fovex_lib.datasets.synthetic.train_seed` ``(seed, k)``,
stored as uint8) and shared by both models; every epoch reshuffles them with a
``torch.Generator`` and flips half of them left-right (all six shapes are
left-right symmetric, so a flip keeps the class). Weights are initialised under
``torch.manual_seed(seed)`` inside :func:`torch.random.fork_rng`, so the caller's
global RNG state is left untouched. Optimiser: AdamW with a one-cycle learning
rate schedule. After training the script reports validation and test accuracy
(:data:`fovex_lib.datasets.synthetic.SPLIT_SEEDS`) and the time taken, and writes
``synthetic_<model>.safetensors`` (with the seed, settings and accuracies in the
file's metadata) to ``--out``.

Everything runs on the CPU (``--threads`` sets torch's thread count, 2 by default);
runs with the same seed and thread count give the same weights.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..datasets.synthetic import load_split, make_dataset, train_seed
from .small import DATA_DIR, SMALL_MODELS, wrap

__all__ = ["TrainConfig", "CONFIGS", "make_training_set", "train_model", "evaluate", "main"]


@dataclass
class TrainConfig:
    """Settings of one model's training run."""

    epochs: int
    batch_size: int
    lr: float
    weight_decay: float


CONFIGS = {
    "cnn": TrainConfig(epochs=2, batch_size=64, lr=4e-3, weight_decay=1e-4),
    "vit": TrainConfig(epochs=3, batch_size=64, lr=1.5e-3, weight_decay=0.05),
}

_CHUNK = 2048


def make_training_set(n: int, seed: int, progress: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` training images as uint8 (N, 3, 64, 64) and their labels (N,)."""
    images, labels = [], []
    chunks = range((n + _CHUNK - 1) // _CHUNK)
    for k in tqdm(chunks, desc="generating training images", disable=not progress):
        data = make_dataset(min(_CHUNK, n - k * _CHUNK), train_seed(seed, k))
        images.append((data.images * 255).round().to(torch.uint8))
        labels.append(data.labels)
    return torch.cat(images), torch.cat(labels)


@torch.no_grad()
def evaluate(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 500) -> float:
    """Accuracy of ``model`` (eval mode) on [0, 1] images."""
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, images.shape[0], batch_size):
        logits = model(images[start : start + batch_size])
        correct += (logits.argmax(1) == labels[start : start + batch_size]).sum().item()
    model.train(was_training)
    return correct / images.shape[0]


def train_model(
    kind: str,
    images: torch.Tensor,
    labels: torch.Tensor,
    seed: int = 0,
    config: TrainConfig | None = None,
    progress: bool = True,
    val=None,
):
    """Train ``kind`` ("cnn" or "vit") on uint8 images; returns the wrapped model (eval mode).

    ``val``: an optional :class:`~fovex_lib.datasets.synthetic.SyntheticDataset` whose accuracy is
    printed after every epoch.
    """
    config = config or CONFIGS[kind]
    name = f"synthetic_{kind}"
    builder, _ = SMALL_MODELS[name]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = wrap(builder(), name)
    generator = torch.Generator().manual_seed(seed)
    n = images.shape[0]
    steps_per_epoch = max(1, n // config.batch_size)
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for param_name, param in model.named_parameters():
        (no_decay if param.ndim <= 1 or "pos_embed" in param_name or "cls_token" in param_name else decay).append(param)
    optimiser = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr,
    )
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=config.lr, pct_start=0.15, total_steps=config.epochs * steps_per_epoch
    )
    model.train()
    for epoch in range(config.epochs):
        order = torch.randperm(n, generator=generator)
        flips = torch.rand(n, generator=generator) < 0.5
        bar = tqdm(range(steps_per_epoch), desc=f"{name} epoch {epoch + 1}/{config.epochs}", disable=not progress)
        running_loss, running_acc = 0.0, 0.0
        for step in bar:
            index = order[step * config.batch_size : (step + 1) * config.batch_size]
            x = images[index].float().div_(255)
            flip = flips[index]
            x[flip] = x[flip].flip(-1)
            y = labels[index]
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            running_loss = 0.95 * running_loss + 0.05 * loss.item() if step else loss.item()
            acc = (logits.argmax(1) == y).float().mean().item()
            running_acc = 0.95 * running_acc + 0.05 * acc if step else acc
            if step % 10 == 0 or step == steps_per_epoch - 1:
                bar.set_postfix(loss=f"{running_loss:.3f}", acc=f"{running_acc:.3f}")
        bar.close()
        if val is not None:
            print(f"{name} epoch {epoch + 1}: validation accuracy {evaluate(model, val.images, val.labels):.2%}")
    return model.eval()


def _save(model, path: Path, metadata: dict[str, str]) -> None:
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous() for k, v in model.net.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata=metadata)


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(
        prog="python -m fovex_lib.models.train_synthetic", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--model", choices=["cnn", "vit", "both"], default="both", help="what to train (both)")
    parser.add_argument("--seed", type=int, default=0, help="training data, order and initialisation (0)")
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help=f"override the epochs of every model trained (cnn {CONFIGS['cnn'].epochs}, vit {CONFIGS['vit'].epochs})",
    )
    parser.add_argument("--train-size", type=int, default=12288, help="training images (12288)")
    parser.add_argument("--val-size", type=int, default=1000, help="validation images (1000)")
    parser.add_argument("--test-size", type=int, default=2000, help="test images (2000)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (2)")
    parser.add_argument("--out", type=Path, default=DATA_DIR, help=f"output folder ({DATA_DIR})")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if not 0 <= args.seed < 2**16:
        parser.error("--seed must be in [0, 65536)")
    for option in ("train_size", "val_size", "test_size", "threads"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be >= 1")
    if args.epochs is not None and args.epochs < 1:
        parser.error("--epochs must be >= 1")

    torch.set_num_threads(args.threads)
    progress = not args.no_progress
    kinds = ["cnn", "vit"] if args.model == "both" else [args.model]
    start = time.perf_counter()
    images, labels = make_training_set(args.train_size, args.seed, progress)
    val, test = load_split("val", args.val_size), load_split("test", args.test_size)
    print(
        f"data: {args.train_size} training, {args.val_size} validation, {args.test_size} test images "
        f"in {time.perf_counter() - start:.1f} s"
    )
    results = {}
    for kind in kinds:
        config = CONFIGS[kind]
        if args.epochs is not None:
            config = TrainConfig(args.epochs, config.batch_size, config.lr, config.weight_decay)
        t0 = time.perf_counter()
        model = train_model(kind, images, labels, args.seed, config, progress, val)
        seconds = time.perf_counter() - t0
        val_acc = evaluate(model, val.images, val.labels)
        test_acc = evaluate(model, test.images, test.labels)
        name = f"synthetic_{kind}"
        path = args.out / SMALL_MODELS[name][1]
        _save(
            model,
            path,
            {
                "seed": str(args.seed),
                "train_size": str(args.train_size),
                "epochs": str(config.epochs),
                "batch_size": str(config.batch_size),
                "lr": str(config.lr),
                "val_accuracy": f"{val_acc:.4f}",
                "test_accuracy": f"{test_acc:.4f}",
                "test_size": str(args.test_size),
            },
        )
        print(
            f"{name}: trained in {seconds:.0f} s; validation accuracy {val_acc:.2%} ({args.val_size} images), "
            f"test accuracy {test_acc:.2%} ({args.test_size} images); saved {path}"
        )
        results[name] = {"seconds": seconds, "val_accuracy": val_acc, "test_accuracy": test_acc}
    print(f"total time {time.perf_counter() - start:.0f} s")
    return results


if __name__ == "__main__":
    main()
