"""The chapters' shared figure and table helpers (fovex_lib.tools.plotting / report).

Figures are drawn with the Agg backend; the tests check what the helpers compute (pixel
positions, extents, running minima, restart landings, table text) and what they draw.
"""

import contextlib
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from fovex_lib import to_pixels  # noqa: E402
from fovex_lib.tools.plotting import (  # noqa: E402
    animate,
    draw_box,
    draw_search,
    landscape_extent,
    map_grid,
    mark_fixations,
    plot_losses,
    show_landscape,
)
from fovex_lib.tools.report import table_frame, text_table  # noqa: E402


@pytest.fixture
def ax():
    fig, axis = plt.subplots()
    yield axis
    plt.close(fig)


# --- text_table ---------------------------------------------------------------------------


def _old_print_modes(rows, title):
    """Chapter 6's former table printer, kept here to pin the layout."""
    print(title)
    print(f"{'method':24s}{'drop black':>12s}{'drop mean':>12s}{'incr black':>12s}{'incr mean':>12s}")
    for method, r in rows.items():
        print(
            f"{method:24s}{r['drop_black']:12.2f}{r['drop_mean']:12.2f}"
            f"{r['increase_black']:12.1f}{r['increase_mean']:12.1f}"
        )


def test_text_table_reproduces_the_former_chapter_6_printer():
    rows = {
        "FovEx": {"drop_black": 61.234, "drop_mean": 12.5, "increase_black": 0.0, "increase_mean": 33.33, "n": 6},
        "Meaningful Perturbation": {
            "drop_black": 5.0,
            "drop_mean": 100.0,
            "increase_black": 50.0,
            "increase_mean": 16.666,
        },
    }
    columns = [
        ("drop_black", "drop black", ".2f"),
        ("drop_mean", "drop mean", ".2f"),
        ("increase_black", "incr black", ".1f"),
        ("increase_mean", "incr mean", ".1f"),
    ]
    old = io.StringIO()
    with contextlib.redirect_stdout(old):
        _old_print_modes(rows, "(a) efficientnet_lite0")
    assert text_table(rows, columns, "(a) efficientnet_lite0") + "\n" == old.getvalue()


def test_text_table_reproduces_the_former_chapter_5_seconds_table():
    seconds = {("lite0", "fovex"): 1.15, ("lite0", "gradcam"): 0.275, ("vit", "fovex"): 0.078, ("vit", "gae"): 0.002}
    methods = {"fovex": "FovEx", "gradcam": "Grad-CAM", "gae": "GAE", "rise": "RISE"}
    names = ["lite0", "vit"]
    old = [f"{'method':26s}" + "".join(f"{n:>18s}" for n in names)]
    for method in methods:
        cells = [f"{seconds[n, method]:18.3f}" if (n, method) in seconds else f"{'-':>18s}" for n in names]
        old.append(f"{methods[method]:26s}" + "".join(cells))
    rows = {label: {n: seconds[n, m] for n in names if (n, m) in seconds} for m, label in methods.items()}
    assert text_table(rows, [(n, n, ".3f") for n in names], label_width=26, width=18) == "\n".join(old)


def test_text_table_missing_values_widths_and_no_title():
    rows = {"FovEx": {"a": 1.23456, "b": 2.0}, "GAE": {"b": 0.5}}
    text = text_table(rows, [("a", "model a", ".3f"), ("b", "model b", ".3f")], label_width=10, width=9)
    assert text.splitlines() == [
        "method      model a  model b",
        "FovEx         1.235    2.000",
        "GAE               -    0.500",
    ]
    assert all(len(line) == 10 + 2 * 9 for line in text.splitlines())


def test_text_table_rejects_bad_widths():
    with pytest.raises(ValueError):
        text_table({}, [("a", "a", ".1f")], width=0)


def test_table_frame_has_the_text_tables_cells():
    rows = {"FovEx": {"a": 1.23456, "b": 2.0}, "GAE": {"b": 0.5}}
    columns = [("a", "model a", ".3f"), ("b", "model b", ".1f")]
    frame = table_frame(rows, columns, label="explainer")
    assert list(frame.index) == ["FovEx", "GAE"] and frame.index.name == "explainer"
    assert list(frame.columns) == ["model a", "model b"]
    assert frame.values.tolist() == [["1.235", "2.0"], ["-", "0.5"]]
    # the same cells as the text table, read back from its lines
    text = text_table(rows, columns, label_width=10, width=9).splitlines()[1:]
    assert [line.split()[1:] for line in text] == frame.values.tolist()
    assert "<table" in frame.to_html()


def test_table_frame_rejects_repeated_headers():
    with pytest.raises(ValueError, match="unique"):
        table_frame({"x": {"a": 1.0}}, [("a", "same", ".1f"), ("b", "same", ".1f")])


# --- crosses, boxes, grids --------------------------------------------------------------------


def test_mark_fixations_returns_pixels_and_draws_current_and_earlier(ax):
    path = torch.tensor([[-0.25, 0.0], [0.5, 0.45], [-0.8, -0.8]])
    px = mark_fixations(ax, path, (224, 224))
    np.testing.assert_allclose(px, to_pixels(path, (224, 224)).numpy())
    earlier, current = ax.lines
    assert earlier.get_marker() == "x" and earlier.get_color() == "white"
    np.testing.assert_allclose(earlier.get_xdata(), px[:-1, 1])  # columns on the x axis
    np.testing.assert_allclose(earlier.get_ydata(), px[:-1, 0])
    assert current.get_marker() == "+" and current.get_color() == "red"
    np.testing.assert_allclose(current.get_xydata(), [[px[-1, 1], px[-1, 0]]])


def test_mark_fixations_one_pair_draws_one_cross(ax):
    px = mark_fixations(ax, (0.0, 1.0), (5, 9), color="white")
    np.testing.assert_allclose(px, [[2.0, 8.0]])  # centre row, last column
    (line,) = ax.lines
    assert line.get_marker() == "+" and line.get_color() == "white"


def test_draw_box_covers_the_pixels(ax):
    patch = draw_box(ax, torch.tensor([2, 3, 6, 10]))  # top, left, bottom, right (exclusive)
    assert patch.get_xy() == (2.5, 1.5)
    assert (patch.get_width(), patch.get_height()) == (7.0, 4.0)


def test_map_grid_layout_titles_and_boxes():
    images = torch.rand(2, 3, 16, 16)
    maps = {"FovEx": torch.rand(2, 1, 16, 16), "Class-embedding projection": torch.rand(2, 1, 16, 16)}
    boxes = torch.tensor([[1, 2, 5, 6], [0, 0, 16, 16]])
    fig = map_grid(images, maps, ["a", "b"], boxes=boxes, title="model", width=9.0, dpi=80)
    try:
        axes = np.array(fig.axes).reshape(2, 3)
        assert fig.get_size_inches()[0] == pytest.approx(9.0) and fig.dpi == 80
        assert [ax.get_title() for ax in axes[0]] == ["image", "FovEx", "Class-\nembedding\nprojection"]
        assert [ax.get_ylabel() for ax in axes[:, 0]] == ["a", "b"]
        assert all(len(ax.patches) == 1 for ax in axes[:, 1:].ravel())  # one box per map panel
        assert fig._suptitle.get_text() == "model"
    finally:
        plt.close(fig)


# --- the fixation search (chapter 3) -----------------------------------------------------------


def test_landscape_extent_centres_cells_on_their_fixations():
    left, right, bottom, top = landscape_extent(3, (5, 9))
    # 3 cells per axis: centres at pixels 0, 2, 4 (rows) and 0, 4, 8 (columns)
    assert (left, right, bottom, top) == (-2.0, 10.0, 5.0, -1.0)
    for j, centre in enumerate(to_pixels(torch.linspace(-1, 1, 3)[:, None].expand(3, 2), (5, 9)).tolist()):
        assert left + (j + 0.5) * (right - left) / 3 == pytest.approx(centre[1])
        assert top + (j + 0.5) * (bottom - top) / 3 == pytest.approx(centre[0])
    with pytest.raises(ValueError):
        landscape_extent(1, (5, 9))


def test_show_landscape_overlays_the_image(ax):
    image = torch.rand(1, 3, 8, 8)
    shown = show_landscape(ax, torch.arange(9.0).reshape(3, 3), image, 0.0, 8.0, title="L")
    assert shown.get_extent() == list(landscape_extent(3, (8, 8)))
    assert shown.get_clim() == (0.0, 8.0)
    assert ax.get_xlim() == (-0.5, 7.5) and ax.get_ylim() == (7.5, -0.5)
    assert len(ax.images) == 2 and ax.get_title() == "L"


def test_draw_search_marks_the_jumps(ax):
    positions = torch.tensor([[0.0, 0.0], [-0.1, 0.1], [0.6, -0.6], [0.5, -0.5], [-0.9, 0.9]])
    restarted = torch.tensor([False, True, False, True, True])  # the last flag has no next position
    landed = draw_search(ax, positions, restarted, positions[3], (11, 11), legend=False)
    np.testing.assert_array_equal(landed, [2, 4])
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    solid = [line for line in ax.lines if line.get_linestyle() == "-"]
    assert len(dashed) == 2 and len(solid) == 2
    px = to_pixels(positions, (11, 11)).numpy()
    np.testing.assert_allclose(dashed[0].get_xdata(), px[1:3, 1])  # the jump from position 1 to 2


def test_plot_losses_returns_the_running_best(ax):
    losses = torch.tensor([2.0, 1.5, 1.7, 1.2, 3.0])
    restarted = torch.tensor([False, True, False, True, False])
    best = plot_losses(ax, losses, restarted, floor=1.0)
    np.testing.assert_allclose(best, [2.0, 1.5, 1.5, 1.2, 1.2])
    crosses = ax.collections[0].get_offsets()
    np.testing.assert_allclose(crosses, [[2, 1.7], [4, 3.0]])  # positions reached by a jump
    assert ax.get_ylim()[0] < 1.0  # the floor line is in view


# --- animate: static counterparts of the live widgets -------------------------------------------


@pytest.mark.parametrize("frame_format", ["png", "jpeg"])
def test_animate_embeds_every_frame_once_and_loads_nothing_from_the_network(frame_format):
    drawn = []

    def draw_frame(fig, i):
        drawn.append((i, len(fig.axes)))  # the figure is cleared before each frame
        ax = fig.subplots()
        ax.plot([0, 1], [0, i])
        ax.set_title(f"frame {i}")

    html = animate(draw_frame, 3, figsize=(3, 2), interval=500, dpi=50, frame_format=frame_format)
    assert drawn == [(0, 0), (1, 0), (2, 0)]  # each frame drawn once, on a cleared figure
    assert html.count(f"data:image/{frame_format};base64,") == 3
    assert "new Animation(frames" in html and 'type="range"' in html
    assert "http://" not in html and "https://" not in html and 'class="fa' not in html
    assert html.count("<button") == 9 and html.count('aria-label="Play"') == 1
    assert "max-width: 100%" in html  # frames shrink with the page
    assert not plt.get_fignums()  # the figure is closed, not shown again by the notebook


def test_animate_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_frames"):
        animate(lambda fig, i: None, 0)
    with pytest.raises(ValueError, match="frame_format"):
        animate(lambda fig, i: None, 2, frame_format="gif")
