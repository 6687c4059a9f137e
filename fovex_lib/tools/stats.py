"""Confidence intervals and paired comparisons for the book's tables.

Every comparison table shows, for each method, the mean over images with a **95%
percentile-bootstrap confidence interval** (images resampled with replacement,
``n_boot`` resamples from a seeded generator), and the **paired difference** to a
reference method (FovEx): the per-image differences ``method - reference`` on the same
images, with their own bootstrap interval. Pairing removes the image-to-image variation
that both methods share, so a difference can be resolved even where the two intervals
overlap.

Wording rule of the book: a method is called better or worse than the reference only
where the paired interval excludes 0 (:func:`verdict`); otherwise the difference is "not
resolved" by these images.

The same ``seed`` and number of images give the same resamples for every method, so the
intervals of a table are computed on the same bootstrap draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import check_count, check_seed

__all__ = [
    "Interval",
    "bootstrap_ci",
    "paired_difference",
    "verdict",
    "compare_methods",
    "format_comparison",
    "per_image_values",
    "plot_comparison",
    "format_metric_table",
    "metric_table_caption",
    "metric_table_frame",
]


@dataclass(frozen=True)
class Interval:
    """A mean with its bootstrap confidence interval ``[low, high]`` over ``n`` values."""

    mean: float
    low: float
    high: float
    n: int

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"


def _values(values, name: str = "values") -> np.ndarray:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.size == 0:
        raise ValueError(f"{name} is empty: a confidence interval needs at least one value.")
    if not np.isfinite(array).all():
        raise ValueError(
            f"{name} contains NaN or infinite values ({int((~np.isfinite(array)).sum())} of "
            f"{array.size}); drop the undefined images explicitly before comparing."
        )
    return array


def bootstrap_ci(values, level: float = 0.95, n_boot: int = 10000, seed: int = 0) -> Interval:
    """Mean of ``values`` with a percentile-bootstrap interval at ``level`` (seeded)."""
    array = _values(values)
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), e.g. 0.95, got {level!r}.")
    check_count(n_boot, "n_boot", low=100)
    check_seed(seed)
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    chunk = max(1, 2_000_000 // array.size)  # bounded memory for large n
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, array.size, size=(stop - start, array.size))
        means[start:stop] = array[idx].mean(1)
    alpha = (1 - level) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return Interval(float(array.mean()), float(low), float(high), int(array.size))


def paired_difference(values, reference, level: float = 0.95, n_boot: int = 10000, seed: int = 0) -> Interval:
    """Bootstrap interval of the mean of ``values - reference`` (same images, same order)."""
    a, b = _values(values), _values(reference, "reference")
    if a.shape != b.shape:
        raise ValueError(f"paired values need the same images: got {a.size} and {b.size} values.")
    return bootstrap_ci(a - b, level, n_boot, seed)


def verdict(difference: Interval, higher_is_better: bool) -> str:
    """``"better"`` / ``"worse"`` than the reference where the interval excludes 0, else ``"not resolved"``."""
    if not difference.excludes_zero():
        return "not resolved"
    return "better" if (difference.mean > 0) == higher_is_better else "worse"


def compare_methods(
    per_image: dict[str, np.ndarray],
    reference: str,
    higher_is_better: bool,
    level: float = 0.95,
    n_boot: int = 10000,
    seed: int = 0,
) -> list[dict]:
    """One row per method: ``method, n, mean, low, high`` and, for all but the reference,
    ``diff, diff_low, diff_high, verdict`` against ``reference`` (values aligned by image)."""
    if reference not in per_image:
        raise KeyError(f"reference method {reference!r} is not among {list(per_image)}.")
    ref = _values(per_image[reference], reference)
    rows = []
    for method, values in per_image.items():
        ci = bootstrap_ci(values, level, n_boot, seed)
        row = {"method": method, "n": ci.n, "mean": ci.mean, "low": ci.low, "high": ci.high}
        if method != reference:
            diff = paired_difference(values, ref, level, n_boot, seed)
            row.update(diff=diff.mean, diff_low=diff.low, diff_high=diff.high, verdict=verdict(diff, higher_is_better))
        rows.append(row)
    return rows


def format_comparison(rows: list[dict], title: str, reference: str, digits: int = 3) -> str:
    """Fixed-width text: method, n, mean [95% CI], paired difference to the reference [95% CI], verdict."""
    width = max(len("method"), *(len(r["method"]) for r in rows)) + 1
    f = f".{digits}f"
    head = f"{'method':<{width}}{'n':>5}  {'mean [95% CI]':>26}  {'minus ' + reference + ' [95% CI]':>29}  verdict"
    lines = [title, head, "-" * (len(head) + 6)]
    for r in rows:
        mean = f"{r['mean']:{f}} [{r['low']:{f}}, {r['high']:{f}}]"
        if "diff" in r:
            diff = f"{r['diff']:+{f}} [{r['diff_low']:+{f}}, {r['diff_high']:+{f}}]"
            tail = r["verdict"]
        else:
            diff, tail = "(reference)", ""
        lines.append(f"{r['method']:<{width}}{r['n']:>5}  {mean:>26}  {diff:>29}  {tail}")
    return "\n".join(lines)


def per_image_values(
    rows: list[dict],
    metric: str,
    methods=None,
    key: str = "image_id",
    method_key: str = "method",
    drop_undefined: bool = False,
) -> dict[str, np.ndarray]:
    """``{method: (N,) values}`` aligned by image, from per-image rows (``{image_id, method, metric}``).

    Every method must have exactly one row per image of the same image set (else a ValueError
    names what is missing), so the arrays can be compared image by image. ``methods`` selects
    and orders the methods (default: their order of first appearance). ``drop_undefined``
    leaves out every image where some method's value is NaN (e.g. EBPG of an all-zero map),
    so all methods keep the same images; the arrays' length tells how many remain.
    """
    table: dict[str, dict] = {}
    for row in rows:
        per_method = table.setdefault(str(row[method_key]), {})
        image = str(row[key])
        if image in per_method:
            raise ValueError(f"method {row[method_key]!r} has two rows for image {image!r}.")
        per_method[image] = float(row[metric])
    methods = list(table) if methods is None else list(methods)
    missing = [m for m in methods if m not in table]
    if missing:
        raise ValueError(f"no rows for method(s) {missing}; the rows hold {list(table)}.")
    images = sorted(table[methods[0]])
    for m in methods[1:]:
        if sorted(table[m]) != images:
            only = sorted(set(images) ^ set(table[m]))[:5]
            raise ValueError(
                f"methods {methods[0]!r} and {m!r} were scored on different images (e.g. {only}); "
                "paired comparisons need the same images."
            )
    values = {m: np.array([table[m][i] for i in images]) for m in methods}
    if drop_undefined:
        keep = np.all([np.isfinite(v) for v in values.values()], axis=0)
        values = {m: v[keep] for m, v in values.items()}
    return values


def plot_comparison(rows: list[dict], ax, title: str, reference: str, chance: float | None = None):
    """Dot-and-whisker plot of each method's mean with its 95% interval; the reference's mean
    as a dashed line, chance as a dotted one. Methods with a resolved difference to the
    reference are drawn filled, unresolved ones hollow."""
    labels = [r["method"] for r in rows][::-1]
    for y, r in enumerate(rows[::-1]):
        resolved = r.get("verdict") in ("better", "worse")
        colour = "black" if r["method"] == reference else ("tab:blue" if resolved else "tab:grey")
        ax.errorbar(
            r["mean"],
            y,
            xerr=[[r["mean"] - r["low"]], [r["high"] - r["mean"]]],
            fmt="o",
            color=colour,
            mfc=colour if resolved or r["method"] == reference else "white",
            capsize=3,
        )
    ref = next(r for r in rows if r["method"] == reference)
    ax.axvline(ref["mean"], color="black", ls="--", lw=0.8)
    if chance is not None:
        ax.axvline(chance, color="black", ls=":", lw=0.8)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_title(title, fontsize=10)
    return ax


def format_metric_table(
    tables: dict[str, list[dict]], title: str, reference: str = "FovEx", digits: dict[str, int] | int = 3
) -> str:
    """Several metrics side by side, two lines per method: the mean with its 95% interval, and
    below it the paired difference to the reference with its interval (``*``: the interval
    excludes 0, i.e. the difference is resolved).

    ``tables``: ``{column label: compare_methods(...) rows}``, the same methods in each.
    ``digits``: decimals, one int or ``{column label: int}``.
    """
    labels = list(tables)
    methods = [r["method"] for r in tables[labels[0]]]
    by_label = {label: {r["method"]: r for r in rows} for label, rows in tables.items()}
    width = max(len("method"), *(len(m) for m in methods), len(f"  minus {reference}")) + 1

    def cells(label, method):
        d = digits if isinstance(digits, int) else digits.get(label, 3)
        r = by_label[label][method]
        top = f"{r['mean']:.{d}f} [{r['low']:.{d}f}, {r['high']:.{d}f}]"
        if "diff" not in r:
            return top, ""
        star = "*" if r["verdict"] != "not resolved" else " "
        return top, f"{r['diff']:+.{d}f} [{r['diff_low']:+.{d}f}, {r['diff_high']:+.{d}f}]{star}"

    grid = {(label, m): cells(label, m) for label in labels for m in methods}
    col = {label: max(len(label), *(len(x) for m in methods for x in grid[label, m])) + 2 for label in labels}
    lines = [metric_table_caption(tables, title, reference, second_line=True)]
    lines.append(f"{'method':<{width}}" + "".join(f"{label:>{col[label]}}" for label in labels))
    lines.append("-" * (width + sum(col.values())))
    for m in methods:
        lines.append(f"{m:<{width}}" + "".join(f"{grid[label, m][0]:>{col[label]}}" for label in labels))
        if m != reference:
            lines.append(
                f"{'  minus ' + reference:<{width}}" + "".join(f"{grid[label, m][1]:>{col[label]}}" for label in labels)
            )
    return "\n".join(lines)


def metric_table_caption(
    tables: dict[str, list[dict]], title: str, reference: str = "FovEx", second_line: bool = False
) -> str:
    """The title line of a metric table: ``title``, the numbers of images and how to read the
    cells (``second_line``: the differences are printed under the means, as in
    :func:`format_metric_table`)."""
    ns = sorted({r["n"] for rows in tables.values() for r in rows})
    where = "second line: " if second_line else ""
    return (
        f"{title} (n = {', '.join(map(str, ns))} images; mean [95% CI]; "
        f"{where}minus {reference} [95% CI], * = resolved)"
    )


def metric_table_frame(tables: dict[str, list[dict]], reference: str = "FovEx", digits: dict[str, int] | int = 3):
    """The table of :func:`format_metric_table` as a pandas DataFrame (an HTML table in a notebook).

    One row per method (the index, named "method"); per metric two columns under the metric's
    label: ``"mean [95% CI]"`` and ``"minus <reference> [95% CI]"``, the paired difference to
    the reference with ``*`` where its interval excludes 0 (resolved); the reference's own
    difference cell reads ``"(reference)"``. Numbers are formatted as in :func:`format_metric_table`, so both
    show the same digits.

    ``tables``: ``{metric label: compare_methods(...) rows}``, the same methods in each.
    ``digits``: decimals, one int or ``{metric label: int}``.
    :func:`metric_table_caption` gives the title line (with the numbers of images).
    """
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]

    labels = list(tables)
    if not labels:
        raise ValueError("tables is empty: pass {metric label: compare_methods(...) rows}.")
    methods = [r["method"] for r in tables[labels[0]]]
    by_label = {label: {r["method"]: r for r in rows} for label, rows in tables.items()}
    for label in labels[1:]:
        if list(by_label[label]) != methods:
            raise ValueError(f"metric {label!r} has methods {list(by_label[label])}, {labels[0]!r} has {methods}.")
    mean_name, diff_name = "mean [95% CI]", f"minus {reference} [95% CI]"
    columns: dict[tuple[str, str], list[str]] = {}
    for label in labels:
        d = digits if isinstance(digits, int) else digits.get(label, 3)
        means, diffs = [], []
        for method in methods:
            r = by_label[label][method]
            means.append(f"{r['mean']:.{d}f} [{r['low']:.{d}f}, {r['high']:.{d}f}]")
            if "diff" in r:
                star = "*" if r["verdict"] != "not resolved" else ""
                diffs.append(f"{r['diff']:+.{d}f} [{r['diff_low']:+.{d}f}, {r['diff_high']:+.{d}f}]{star}")
            else:
                diffs.append("(reference)")
        columns[label, mean_name] = means
        columns[label, diff_name] = diffs
    frame = pd.DataFrame(columns, index=pd.Index(methods, name="method"))
    frame.columns = pd.MultiIndex.from_tuples(list(columns), names=["metric", None])
    return frame
