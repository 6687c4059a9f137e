"""Small matplotlib helpers the chapters share (images, maps, scanpaths).

Every function draws on a given ``ax`` (or a new one), so figures can be composed
freely; the drawing helpers return the axis, or what they computed where that is
worth checking (pixel positions, running minima, restart landings). Positions use
the library's convention: (row, col) in [-1, 1], converted to pixels with
:func:`fovex_lib.to_pixels`.

* images and maps: :func:`show_image`, :func:`show_map`, :func:`map_grid` (rows =
  images, columns = methods), :func:`draw_box`
* fixations: :func:`mark_fixations` (crosses, chapters 1-2), :func:`draw_scanpath`
  (numbered circles; :func:`draw_pixel_scanpath` for paths in pixels)
* the fixation search (chapter 3): :func:`show_landscape`, :func:`draw_search`,
  :func:`plot_losses`
* static counterparts of the live widgets: :func:`animate` (precomputed frames with a
  slider and play buttons, as self-contained HTML that needs no kernel and no network)
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.animation import FuncAnimation
from matplotlib.lines import Line2D

from ..method.foveation import to_pixels

__all__ = [
    "to_numpy_image",
    "show_image",
    "show_map",
    "draw_scanpath",
    "draw_pixel_scanpath",
    "mark_fixations",
    "draw_box",
    "map_grid",
    "landscape_extent",
    "show_landscape",
    "draw_search",
    "plot_losses",
    "animate",
]


def to_numpy_image(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) or (1, 3, H, W) tensor in [0, 1] -> (H, W, 3) numpy array."""
    if image.dim() == 4:
        if image.shape[0] != 1:
            raise ValueError(f"pass one image, got a batch of {image.shape[0]}.")
        image = image[0]
    return image.detach().float().cpu().permute(1, 2, 0).clamp(0, 1).numpy()


def _axis(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def show_image(image: torch.Tensor, ax=None, title: str | None = None):
    """Show one RGB image."""
    ax = _axis(ax)
    ax.imshow(to_numpy_image(image))
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def show_map(
    saliency: torch.Tensor,
    image: torch.Tensor | None = None,
    ax=None,
    title: str | None = None,
    alpha: float = 0.5,
    cmap: str = "jet",
    colorbar: bool = False,
    vmin: float = 0.0,
    vmax: float = 1.0,
):
    """Show a (H, W) / (1, H, W) / (1, 1, H, W) map, overlaid on ``image`` when given.

    The colour scale is fixed to [vmin, vmax] (default [0, 1], the range of attribution
    maps) so that several panels can share it.
    """
    ax = _axis(ax)
    values = saliency.detach().float().cpu().squeeze().numpy()
    if image is not None:
        ax.imshow(to_numpy_image(image))
        shown = ax.imshow(values, cmap=cmap, alpha=alpha, vmin=vmin, vmax=vmax)
    else:
        shown = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax)
    if colorbar:
        plt.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def draw_scanpath(
    scanpath: torch.Tensor,
    size: tuple[int, int],
    ax,
    color: str = "white",
    numbered: bool = True,
    line: bool = True,
    marker_size: float = 200,
    filled: bool = True,
    fontsize: float = 9,
):
    """Draw fixations (L, 2) in [-1, 1] as numbered circles joined by lines.

    ``filled=False`` draws hollow circles that leave the image under each fixation visible;
    ``fontsize`` is the step numbers' size in points (9 pt is about 10 px in the book's
    column for a figure drawn 8.6 inches wide).
    """
    px = to_pixels(scanpath.detach().float().cpu(), size).numpy()
    return draw_pixel_scanpath(px, ax, color, numbered, line, marker_size, filled, fontsize=fontsize)


def draw_pixel_scanpath(
    path,
    ax,
    color: str = "white",
    numbered: bool = True,
    line: bool = True,
    marker_size: float = 200,
    filled: bool = True,
    label: str | None = None,
    text_color: str | None = None,
    fontsize: float = 9,
):
    """Draw a scanpath given in pixels, (L, 2) ``(row, col)`` (a third column, e.g. durations,
    is ignored), as numbered circles joined by lines, in viewing order.

    ``label`` names the path in a legend; ``text_color`` colours the numbers (default ``color``);
    ``fontsize`` is their size in points.
    """
    px = np.asarray(path, dtype=np.float64)
    if px.ndim != 2 or px.shape[1] < 2:
        raise ValueError(f"path must be an (L, 2) array of (row, col) pixels, got shape {px.shape}.")
    rows, cols = px[:, 0], px[:, 1]
    if line:
        ax.plot(cols, rows, "-", color=color, lw=1.2, alpha=0.8)
    ax.scatter(
        cols,
        rows,
        s=marker_size,
        facecolors="black" if filled else "none",
        edgecolors=color,
        linewidths=1.5,
        zorder=3,
        label=label,
    )
    if numbered:
        for i, (r, c) in enumerate(zip(rows, cols), start=1):
            ax.text(
                c,
                r,
                str(i),
                color=text_color or color,
                ha="center",
                va="center",
                fontsize=fontsize,
                weight="bold",
                zorder=4,
            )
    return ax


def _as_positions(fixations) -> torch.Tensor:
    """(row, col) pairs as an (L, 2) float32 CPU tensor."""
    if isinstance(fixations, torch.Tensor):
        fixations = fixations.detach().float().cpu()
    return torch.as_tensor(fixations, dtype=torch.float32).reshape(-1, 2)


def mark_fixations(
    ax, fixations, size: tuple[int, int], color: str = "red", earlier_color: str = "white", marker_size: float = 14.0
) -> np.ndarray:
    """Mark fixations (row, col) in [-1, 1] with crosses; the last one is the current one.

    The current (last) fixation is a large ``+`` in ``color``, earlier ones small ``x``
    in ``earlier_color``. ``fixations`` is one pair or an (L, 2) sequence / tensor.

    Returns:
        (L, 2) pixel positions (row, col) of the marks.
    """
    px = to_pixels(_as_positions(fixations), size).numpy()
    if len(px) > 1:
        ax.plot(px[:-1, 1], px[:-1, 0], "x", color=earlier_color, markersize=marker_size / 2, markeredgewidth=2)
    ax.plot(px[-1:, 1], px[-1:, 0], "+", color=color, markersize=marker_size, markeredgewidth=2.5)
    return px


def draw_box(ax, box, color: str = "white", lw: float = 1.5, ls: str = "-"):
    """Draw a box ``(top, left, bottom, right)`` in pixels (bottom / right exclusive)."""
    top, left, bottom, right = (float(v) for v in box)
    return ax.add_patch(
        plt.Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False, edgecolor=color, lw=lw, ls=ls)
    )


def map_grid(
    images: torch.Tensor,
    maps: dict,
    row_labels,
    boxes=None,
    title: str | None = None,
    width: float = 10.0,
    dpi: int = 100,
    fontsize: float = 10.0,
    wrap: int = 13,
):
    """One row per image: the image, then each method's map overlaid on it.

    Args:
        images: (B, 3, H, W) images in [0, 1].
        maps: column title -> (B, 1, H, W) maps in [0, 1] (one colour scale for all).
        row_labels: B row labels, written left of each row.
        boxes: optional (B, 4) boxes ``(top, left, bottom, right)``, drawn dashed.
        title: the figure's title.
        width: figure width in inches (the page width); panels are square.
        dpi, fontsize, wrap: resolution, font size of titles and labels, and the width
            in characters at which column titles wrap.

    Returns:
        The figure.
    """
    columns = len(maps) + 1
    panel = width / columns
    rows = len(row_labels)
    title_lines = max(len(textwrap.wrap(name, wrap)) for name in ["image", *maps])
    height = panel * rows + (0.4 if title else 0.0) + 0.22 * title_lines + 0.1
    fig, axes = plt.subplots(rows, columns, figsize=(width, height), squeeze=False, dpi=dpi)
    for row, label in enumerate(row_labels):
        show_image(images[row], axes[row, 0])
        axes[row, 0].set_ylabel(label, fontsize=fontsize)
        for col, values in enumerate(maps.values(), start=1):
            show_map(values[row], images[row], axes[row, col])
            if boxes is not None:
                draw_box(axes[row, col], boxes[row], lw=1.2, ls="--")
    for ax, name in zip(axes[0], ["image", *maps]):
        ax.set_title(textwrap.fill(name, wrap), fontsize=fontsize)
    if title:
        fig.suptitle(title, fontsize=fontsize + 2)
    fig.tight_layout(pad=0.4, w_pad=0.3, h_pad=0.3)
    return fig


def landscape_extent(resolution: int, size: tuple[int, int] | torch.Size) -> tuple[float, float, float, float]:
    """``imshow`` extent that centres each cell of a resolution x resolution landscape on its
    fixation, in pixel coordinates of an image of ``size`` (grid ``linspace(-1, 1, resolution)``)."""
    if resolution < 2:
        raise ValueError(f"a landscape needs at least 2 points per axis, got {resolution}.")
    half_row = (size[0] - 1) / (resolution - 1) / 2
    half_col = (size[1] - 1) / (resolution - 1) / 2
    return (-half_col, size[1] - 1 + half_col, size[0] - 1 + half_row, -half_row)


def show_landscape(
    ax,
    losses: torch.Tensor,
    image: torch.Tensor,
    vmin: float | None = None,
    vmax: float | None = None,
    alpha: float = 0.65,
    cmap: str = "viridis_r",
    title: str | None = None,
):
    """Draw an (R, R) loss landscape over ``image``, each cell centred on its fixation.

    Returns the landscape's ``AxesImage`` (for a colour bar).
    """
    values = losses.detach().float().cpu()
    size = image.shape[-2:]
    ax.imshow(to_numpy_image(image))
    shown = ax.imshow(
        values.numpy(),
        cmap=cmap,
        alpha=alpha,
        vmin=vmin,
        vmax=vmax,
        extent=landscape_extent(values.shape[0], size),
        interpolation="nearest",
    )
    ax.set_xlim(-0.5, size[1] - 0.5)
    ax.set_ylim(size[0] - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    return shown


def _landings(restarted) -> np.ndarray:
    """Indices of the positions reached by a restart / jitter jump (``restarted[k]``: the move
    from position k to k + 1 was one; the last flag has no next position)."""
    flags = np.asarray(torch.as_tensor(restarted).detach().cpu(), dtype=bool)
    return np.flatnonzero(flags[:-1]) + 1


def draw_search(
    ax,
    positions: torch.Tensor,
    restarted: torch.Tensor,
    best: torch.Tensor,
    size: tuple[int, int],
    color: str = "white",
    numbered: bool = True,
    legend: bool = True,
    fontsize: float = 9,
) -> np.ndarray:
    """Draw one fixation search: its evaluated positions in order.

    Solid lines are sign-gradient steps, dashed red lines restart / jitter jumps (red
    crosses where they land); a cyan square marks the start, a gold star the best position.

    Args:
        positions: (K, 2) evaluated positions (row, col) in [-1, 1].
        restarted: (K,) flags, ``restarted[k]``: the move from position k to k + 1 jumped.
        best: (2,) the best position.
        size: (H, W) of the image drawn on.
        fontsize: size of the step numbers and the legend, in points.

    Returns:
        The indices of the positions reached by a jump.
    """
    px = to_pixels(_as_positions(positions), size).numpy()
    rows, cols = px[:, 0], px[:, 1]
    landed = _landings(restarted)
    for k in range(len(px) - 1):
        if k + 1 in landed:
            ax.plot(cols[k : k + 2], rows[k : k + 2], "--", color="red", lw=1.3)
        else:
            ax.plot(cols[k : k + 2], rows[k : k + 2], "-", color=color, lw=2)
    ax.scatter(cols, rows, s=16, color=color, edgecolors="black", linewidths=0.5, zorder=3)
    ax.scatter(cols[landed], rows[landed], marker="x", color="red", s=70, linewidths=2.2, zorder=4)
    if numbered:
        for k, (r, c) in enumerate(zip(rows, cols)):
            ax.annotate(
                str(k), (c, r), xytext=(4, 4), textcoords="offset points", fontsize=fontsize, color=color, weight="bold"
            )
    ax.scatter(cols[0], rows[0], marker="s", s=90, facecolors="none", edgecolors="cyan", linewidths=2, zorder=5)
    b = to_pixels(_as_positions(best), size)[0].numpy()
    ax.scatter(b[1], b[0], marker="*", s=300, color="gold", edgecolors="black", zorder=6)
    if legend:
        handles = [
            Line2D([], [], color=color, lw=2, marker="o", markersize=4, label="sign-gradient step"),
            Line2D([], [], color="red", ls="--", marker="x", markersize=7, label="restart / jitter"),
            Line2D(
                [], [], color="cyan", ls="", marker="s", markerfacecolor="none", markersize=8, label="start (centre)"
            ),
            Line2D([], [], color="gold", ls="", marker="*", markeredgecolor="black", markersize=13, label="best seen"),
        ]
        ax.legend(handles=handles, fontsize=fontsize, loc="lower left", framealpha=0.8)
    return landed


def plot_losses(
    ax,
    losses: torch.Tensor,
    restarted: torch.Tensor,
    label: str = "loss at step k",
    color: str = "tab:blue",
    extras: bool = True,
    floor: float | None = None,
    fontsize: float = 9,
) -> np.ndarray:
    """Loss at each evaluated position of one search, its running best (thick line) and the
    positions reached by a restart / jitter jump (red crosses).

    ``extras=False`` leaves the running best and the crosses out of the legend (for a second
    curve on the same axis); ``floor`` draws a dotted reference line (e.g. the lowest loss of
    a landscape); ``fontsize`` is the legend's size in points.

    Returns:
        The running best loss after each step, ``min(losses[:k + 1])``.
    """
    values = losses.detach().float().cpu().numpy()
    k = np.arange(len(values))
    best = np.minimum.accumulate(values)
    ax.plot(k, values, "o-", color=color, ms=4, lw=1, label=label)
    ax.step(k, best, where="post", color=color, lw=3, alpha=0.4, label="best so far" if extras else None)
    landed = _landings(restarted)
    ax.scatter(
        landed,
        values[landed],
        marker="x",
        color="red",
        s=50,
        zorder=3,
        label="after a restart / jitter" if extras else None,
    )
    if floor is not None:
        ax.axhline(floor, color="gray", ls=":", lw=1.5, label="lowest loss on the landscape grid")
        low, high = ax.get_ylim()
        ax.set_ylim(min(low, floor - 0.05 * (high - floor)), high)
    ax.set_xticks(k)
    ax.set_xlabel("step k (evaluated position)")
    ax.set_ylabel("cross-entropy")
    ax.legend(fontsize=fontsize)
    return best


# matplotlib's HTML player draws its buttons with Font Awesome icons loaded from a CDN:
# offline (or on a site that must not load other hosts) the buttons would be blank. Plain
# characters stand in for them; each button keeps its title and aria-label.
_PLAYER_ICONS = {
    "fa fa-minus": "&minus;",
    "fa fa-fast-backward": "&#8676;",  # leftwards arrow to bar
    "fa fa-step-backward": "&#9665;",  # white left-pointing triangle
    "fa fa-play fa-flip-horizontal": "&#9664;",  # black left-pointing triangle
    "fa fa-pause": "&#8214;",  # double vertical line
    "fa fa-play": "&#9654;",  # black right-pointing triangle
    "fa fa-step-forward": "&#9655;",  # white right-pointing triangle
    "fa fa-fast-forward": "&#8677;",  # rightwards arrow to bar
    "fa fa-plus": "+",
}
# The frames scale down with the page (phones); the slider follows.
_PLAYER_STYLE = (
    "<style>\n.animation { max-width: 100%; }\n.animation img { max-width: 100%; height: auto; }\n"
    "input[type=range].anim-slider { max-width: 100%; }\n.anim-buttons button { font-size: 16px; }\n</style>\n"
)


def _offline_player(html: str) -> str:
    """matplotlib's ``to_jshtml`` output without any request to another host."""
    html = re.sub(r"<link[^>]*font-awesome[^>]*>\s*", "", html)
    for icon, text in _PLAYER_ICONS.items():
        html = html.replace(f'<i class="{icon}"></i>', text)
    if re.search(r"\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", html) or 'class="fa ' in html:
        raise RuntimeError("matplotlib's player still loads something from another host; update _offline_player.")
    return _PLAYER_STYLE + html


def animate(
    draw_frame: Callable,
    n_frames: int,
    figsize: tuple[float, float] = (6.8, 3.4),
    interval: int = 1000,
    dpi: int = 100,
    frame_format: str = "png",
    loop: bool = False,
) -> str:
    """Precomputed frames as a small HTML player: the static counterpart of a live widget.

    ``draw_frame(fig, i)`` draws frame ``i`` (0 <= i < n_frames) on ``fig``, which is cleared
    before each frame (so draw_frame adds its own axes, e.g. ``fig.subplots(1, 2)``, and may
    call ``fig.tight_layout()``). The frames are rendered once, at ``figsize`` inches and
    ``dpi``, and embedded as base64 ``frame_format`` images (``"jpeg"`` keeps photographs
    small, ``"png"`` suits line plots) in the HTML of matplotlib's
    ``FuncAnimation.to_jshtml``: a slider, step and play buttons, once / loop / reflect.
    Unlike matplotlib's own player it loads nothing from the network (its icon font is
    replaced by plain characters), so it works on a static site, offline.

    Display the result with ``IPython.display.HTML(animate(...))``. ``interval``: milliseconds
    between frames when playing; ``loop``: start in loop mode instead of playing once.
    """
    n_frames = int(n_frames)
    if n_frames < 1:
        raise ValueError(f"n_frames must be at least 1, got {n_frames}.")
    if frame_format not in ("png", "jpeg"):
        raise ValueError(f"frame_format must be 'png' or 'jpeg', got {frame_format!r}.")

    with plt.rc_context({"animation.frame_format": frame_format}):
        fig = plt.figure(figsize=figsize, dpi=dpi)
        try:

            def update(i):
                fig.clear()
                draw_frame(fig, i)
                return []

            animation = FuncAnimation(
                fig, update, frames=n_frames, init_func=lambda: [], interval=interval, blit=False, repeat=False
            )
            html = animation.to_jshtml(default_mode="loop" if loop else "once")
        finally:
            plt.close(fig)
    return _offline_player(html)
