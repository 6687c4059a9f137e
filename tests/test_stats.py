"""Bootstrap intervals and paired comparisons, checked against scipy.stats.bootstrap."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from fovex_lib.tools.stats import Interval, bootstrap_ci, compare_methods, format_comparison, paired_difference, verdict


def test_bootstrap_interval_agrees_with_scipy_percentile_bootstrap():
    values = np.random.default_rng(1).gamma(2.0, 1.0, size=60)
    ours = bootstrap_ci(values, n_boot=20000, seed=3)
    ref = scipy_stats.bootstrap(
        (values,),
        np.mean,
        n_resamples=20000,
        method="percentile",
        confidence_level=0.95,
        random_state=np.random.default_rng(9),
    ).confidence_interval
    width = ref.high - ref.low
    assert ours.mean == pytest.approx(values.mean())
    assert ours.low == pytest.approx(ref.low, abs=0.05 * width)
    assert ours.high == pytest.approx(ref.high, abs=0.05 * width)


def test_interval_is_seeded_and_covers_the_true_mean_about_95_percent_of_the_time():
    values = np.arange(10.0)
    assert bootstrap_ci(values, seed=5) == bootstrap_ci(values, seed=5)
    rng = np.random.default_rng(0)
    covered = 0
    for i in range(200):
        sample = rng.normal(1.0, 1.0, 40)
        ci = bootstrap_ci(sample, n_boot=1000, seed=i)
        covered += ci.low <= 1.0 <= ci.high
    assert 0.88 <= covered / 200 <= 0.99


def test_pairing_resolves_a_shift_that_the_separate_intervals_do_not():
    rng = np.random.default_rng(2)
    base = rng.normal(0.0, 1.0, 50)  # large image-to-image spread shared by both methods
    better = base + 0.1 + rng.normal(0, 0.02, 50)
    a, b = bootstrap_ci(better), bootstrap_ci(base)
    assert a.low < b.high  # the intervals overlap
    diff = paired_difference(better, base)
    assert diff.excludes_zero() and diff.low > 0.08 and diff.high < 0.12
    assert verdict(diff, higher_is_better=True) == "better"
    assert verdict(diff, higher_is_better=False) == "worse"
    assert verdict(Interval(0.01, -0.02, 0.04, 50), True) == "not resolved"


def test_compare_methods_rows_and_table():
    per_image = {
        "FovEx": np.array([0.5, 0.6, 0.7, 0.8]),
        "A": np.array([0.9, 1.0, 1.1, 1.2]),
        "B": np.array([0.5, 0.61, 0.69, 0.8]),
    }
    rows = compare_methods(per_image, "FovEx", higher_is_better=True, n_boot=1000)
    assert [r["method"] for r in rows] == ["FovEx", "A", "B"]
    assert "diff" not in rows[0]
    assert rows[1]["diff"] == pytest.approx(0.4) and rows[1]["verdict"] == "better"
    assert rows[2]["verdict"] == "not resolved"
    text = format_comparison(rows, "NSS", "FovEx")
    assert "(reference)" in text and "+0.400 [+0.400, +0.400]" in text


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="empty"):
        bootstrap_ci([])
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_ci([1.0, float("nan")])
    with pytest.raises(ValueError, match="same images"):
        paired_difference([1.0, 2.0], [1.0])
    with pytest.raises(KeyError, match="reference"):
        compare_methods({"A": np.ones(3)}, "FovEx", True)


def test_per_image_values_aligns_by_image_and_refuses_gaps():
    from fovex_lib.tools.stats import per_image_values

    rows = [
        {"image_id": "2", "method": "A", "nss": 2.0},
        {"image_id": "1", "method": "A", "nss": 1.0},
        {"image_id": "1", "method": "B", "nss": 10.0},
        {"image_id": "2", "method": "B", "nss": 20.0},
    ]
    got = per_image_values(rows, "nss")
    assert list(got) == ["A", "B"]
    np.testing.assert_array_equal(got["A"], [1.0, 2.0])
    np.testing.assert_array_equal(got["B"], [10.0, 20.0])
    with pytest.raises(ValueError, match="different images"):
        per_image_values(rows[:3], "nss")
    with pytest.raises(ValueError, match="two rows"):
        per_image_values(rows + rows[:1], "nss")
    with pytest.raises(ValueError, match="no rows"):
        per_image_values(rows, "nss", methods=["C"])


def test_metric_table_and_undefined_values():
    from fovex_lib.tools.stats import format_metric_table, per_image_values

    rows = [
        {"image_id": str(i), "method": m, "x": v, "y": (float("nan") if (m, i) == ("B", 0) else v)}
        for i in range(5)
        for m, v in (("FovEx", i), ("B", i + 1.0))
    ]
    ys = per_image_values(rows, "y", drop_undefined=True)
    assert len(ys["FovEx"]) == len(ys["B"]) == 4
    tables = {
        "X": compare_methods(per_image_values(rows, "x"), "FovEx", True, n_boot=200),
        "Y": compare_methods(ys, "FovEx", False, n_boot=200),
    }
    text = format_metric_table(tables, "demo", digits={"X": 1, "Y": 2})
    assert "n = 4, 5 images" in text
    assert "+1.0 [+1.0, +1.0]*" in text and "+1.00 [+1.00, +1.00]*" in text


def test_metric_table_frame_cells_match_compare_methods():
    from fovex_lib.tools.stats import format_metric_table, metric_table_caption, metric_table_frame

    rng = np.random.default_rng(4)
    base = rng.normal(size=12)
    per_image = {"FovEx": base, "A": base + 1.0, "B": base + rng.normal(scale=3.0, size=12)}
    tables = {
        "NSS": compare_methods(per_image, "FovEx", True, n_boot=300),
        "Deletion (lower)": compare_methods(per_image, "FovEx", False, n_boot=300),
    }
    frame = metric_table_frame(tables, "FovEx", digits={"NSS": 2, "Deletion (lower)": 3})
    assert list(frame.index) == ["FovEx", "A", "B"] and frame.index.name == "method"
    assert list(frame.columns) == [
        ("NSS", "mean [95% CI]"),
        ("NSS", "minus FovEx [95% CI]"),
        ("Deletion (lower)", "mean [95% CI]"),
        ("Deletion (lower)", "minus FovEx [95% CI]"),
    ]
    for label, d in (("NSS", 2), ("Deletion (lower)", 3)):
        for row in tables[label]:
            mean = frame.loc[row["method"], (label, "mean [95% CI]")]
            assert mean == f"{row['mean']:.{d}f} [{row['low']:.{d}f}, {row['high']:.{d}f}]"
            diff = frame.loc[row["method"], (label, "minus FovEx [95% CI]")]
            if row["method"] == "FovEx":
                assert diff == "(reference)"
                continue
            low, high = f"{row['diff_low']:+.{d}f}", f"{row['diff_high']:+.{d}f}"
            assert diff.startswith(f"{row['diff']:+.{d}f} [{low}, {high}]")
            assert diff.endswith("*") == (row["verdict"] != "not resolved")
    # A is shifted by exactly +1: resolved (better on NSS, worse on deletion); same cells as the text table
    assert frame.loc["A", ("NSS", "minus FovEx [95% CI]")] == "+1.00 [+1.00, +1.00]*"
    text = format_metric_table(tables, "demo", digits={"NSS": 2, "Deletion (lower)": 3})
    assert all(cell.rstrip("*") in text for cell in frame.to_numpy().ravel() if cell != "(reference)")
    assert metric_table_caption(tables, "demo") == (
        "demo (n = 12 images; mean [95% CI]; minus FovEx [95% CI], * = resolved)"
    )
    assert text.splitlines()[0] == metric_table_caption(tables, "demo", second_line=True)
    assert "<table" in frame.to_html()
    with pytest.raises(ValueError, match="methods"):
        metric_table_frame({"NSS": tables["NSS"], "X": tables["NSS"][:2]})
    with pytest.raises(ValueError, match="empty"):
        metric_table_frame({})
