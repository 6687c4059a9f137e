"""Tables of numbers for the chapters, as text or as HTML.

:func:`text_table` lays out rows of numbers under right-aligned column headers, one
fixed width per column, so that printed tables line up and read the same in a report and
a terminal. :func:`table_frame` gives the same cells as a pandas DataFrame, which a
notebook (and the published book) shows as an HTML table that wraps on a phone instead
of being cut off. (Tables with confidence intervals and paired differences are
:func:`fovex_lib.tools.stats.format_metric_table` and
:func:`fovex_lib.tools.stats.metric_table_frame`.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["table_frame", "text_table"]


def text_table(
    rows: Mapping[str, Mapping[str, float]],
    columns: Sequence[tuple[str, str, str]],
    title: str | None = None,
    label: str = "method",
    label_width: int = 24,
    width: int = 12,
    missing: str = "-",
) -> str:
    """Rows of numbers as a fixed-width text table.

    Args:
        rows: row label -> {column key: value}; a key absent from a row prints ``missing``.
        columns: ``(key, header, format)`` per column, e.g. ``("drop", "drop %", ".2f")``.
        title: an optional first line.
        label: the header of the label column.
        label_width: width of the label column (labels are left-aligned, padded to it).
        width: width of every value column (headers and values right-aligned).
        missing: text for a missing value.

    Returns:
        The table as one string, lines separated by newlines (no trailing newline).

    Example:
        >>> print(text_table({"FovEx": {"auc": 0.25}}, [("auc", "AUC", ".3f")], width=8))
        method                       AUC
        FovEx                      0.250
    """
    if width < 1 or label_width < 0:
        raise ValueError(f"column widths must be positive, got width={width}, label_width={label_width}.")
    lines = [] if title is None else [title]
    lines.append(f"{label:{label_width}s}" + "".join(f"{header:>{width}s}" for _, header, _ in columns))
    for name, values in rows.items():
        cells = [f"{values[key]:{width}{fmt}}" if key in values else f"{missing:>{width}s}" for key, _, fmt in columns]
        lines.append(f"{name:{label_width}s}" + "".join(cells))
    return "\n".join(lines)


def table_frame(
    rows: Mapping[str, Mapping[str, float]],
    columns: Sequence[tuple[str, str, str]],
    label: str = "method",
    missing: str = "-",
):
    """The cells of :func:`text_table` as a pandas DataFrame (an HTML table in a notebook).

    Every value is formatted to text with its column's format, so the HTML table shows
    exactly the rounded numbers of the text table (stable outputs across machines), and no
    column is widened or cut.

    Args:
        rows: row label -> {column key: value}; a key absent from a row shows ``missing``.
        columns: ``(key, header, format)`` per column, e.g. ``("drop", "drop %", ".2f")``.
        label: the name of the index (the row labels' column).
        missing: text for a missing value.

    Returns:
        A DataFrame with one row per entry of ``rows`` (in order) and one column per header.

    Example:
        >>> table_frame({"FovEx": {"auc": 0.25}}, [("auc", "AUC", ".3f")]).loc["FovEx", "AUC"]
        '0.250'
    """
    import pandas as pd  # type: ignore[import-untyped, unused-ignore]

    headers = [header for _, header, _ in columns]
    if len(set(headers)) != len(headers):
        raise ValueError(f"column headers must be unique, got {headers}.")
    cells = [
        [f"{values[key]:{fmt}}" if key in values else missing for key, _, fmt in columns] for values in rows.values()
    ]
    return pd.DataFrame(cells, index=pd.Index(list(rows), name=label), columns=headers)
