"""Run a book chapter as a parameterised batch job: MyST -> notebook -> papermill -> HTML.

``python -m fovex_lib run <chapter> -p name value ... -o DIR`` (see ``fovex_lib.__main__``)
calls :func:`run_chapter`, which

1. finds the chapter by number (``4``, ``04``, ``A``), name (``attribution``,
   ``04_attribution``) or path (a MyST ``.md`` or a ``.ipynb``);
2. turns a MyST source into a notebook with jupytext (the committed ``.ipynb`` is not
   touched);
3. reads the chapter's parameters from its code cell tagged ``parameters`` (plain
   ``name = literal  # comment`` lines) and validates every requested value *before*
   anything runs: an unknown name or a value of the wrong type raises a ValueError
   that lists the chapter's parameters with their defaults;
4. executes the notebook with papermill (into a temporary folder), with the chapter's
   folder as working directory (as in the book), and then writes the executed notebook
   and an HTML report (nbconvert) into the output folder;
5. with a grid, runs one report per combination of values; a failed run is reported
   (its notebook and HTML show the error) and the other runs go on.

What is left under the final names (``<stem>.ipynb``, ``<stem>.html``):

* a finished run: its complete notebook and report (metadata ``fovex_run.status`` = ``"ok"``);
* a failed run (an error in a cell, a cell timeout, a dead kernel): its notebook and
  report, clearly marked: a first cell "This run FAILED ..." with the error, and
  ``fovex_run.status`` = ``"failed"``;
* an interrupted run (SIGINT / Ctrl-C or SIGTERM, e.g. a cluster's time limit): nothing
  new. The kernel is shut down, the temporary folder is removed and
  :class:`RunInterrupted` is raised (the command line exits with 130 or 143); the runs of
  a grid that finished before stay.

Every output is written to a temporary file in the output folder and renamed into place
(``os.replace``), so a full disk or a kill never leaves a truncated file under a final name.

Cells tagged ``widget`` (the chapters' live ipywidgets controls) are replaced by a note
in batch runs (:func:`drop_widget_cells`; ``keep_widgets=True`` / ``--keep-widgets``
executes them): a report is static, and executing ``interact`` cells headless can hang
the notebook client now and then (jupyter/nbclient#312, seen here too).

Existing outputs are never overwritten unless ``overwrite=True``; that check, the output
folder (it must be creatable and writable), the kernel (it must exist) and the timeout (a
positive number) cover all runs of a grid and happen before the first one starts.

Type rules (the default's type decides): bool takes ``True/False`` (also
``true/false/1/0/yes/no`` on the command line); int takes whole numbers; float takes
any number; str takes any text, as is; a list/tuple/dict default takes a Python literal
of that kind; a ``None`` default takes anything (a Python literal, else the text).
``None`` is also accepted where the parameter's comment documents it (e.g.
``step = 3584  # ...; None = one row``); a text default then takes ``None`` only as
the literal word ``None``.
"""

from __future__ import annotations

import ast
import contextlib
import itertools
import math
import os
import re
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Parameter",
    "RunResult",
    "RunInterrupted",
    "book_root",
    "list_chapters",
    "resolve_chapter",
    "load_chapter",
    "read_parameters",
    "parse_value",
    "validate_parameters",
    "parse_grid",
    "grid_combinations",
    "output_stem",
    "run_chapter",
    "format_parameters",
    "drop_widget_cells",
    "check_timeout",
    "check_kernel",
]


@dataclass
class Parameter:
    """One entry of a chapter's ``parameters`` cell: ``name = default  # comment``."""

    name: str
    default: Any
    comment: str = ""

    @property
    def accepts_none(self) -> bool:
        """True when ``None`` is allowed: a ``None`` default, or a comment that documents ``None``."""
        return self.default is None or re.search(r"\bNone\b", self.comment) is not None

    @property
    def kind(self) -> str:
        """The accepted kind, from the default's type (see the module docstring)."""
        if self.default is None:
            return "any"
        return type(self.default).__name__ + (" or None" if self.accepts_none else "")


@dataclass
class RunResult:
    """What one run produced: its parameters, output files, success and duration."""

    chapter: str
    parameters: dict
    notebook: Path
    html: Path | None
    ok: bool = False
    error: str = ""
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


class RunInterrupted(KeyboardInterrupt):
    """A chapter run was stopped by SIGINT (Ctrl-C) or SIGTERM.

    Nothing was written under the final names of the run in progress; its kernel was shut
    down and the temporary folder removed. ``results`` holds the runs that finished before
    (a grid), ``signal_name`` the signal and ``exit_code`` the conventional exit status
    (128 + the signal number: 130 for SIGINT, 143 for SIGTERM).
    """

    def __init__(self, signum: int, results: list[RunResult]):
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        self.results = results
        self.exit_code = 128 + signum
        super().__init__(
            f"interrupted by {self.signal_name}: the run in progress wrote no output; "
            f"{len(results)} earlier run(s) finished."
        )


# --------------------------------------------------------------------------- chapters
def book_root() -> Path | None:
    """The default book folder: the nearest ``book/`` in the working directory or above it, or None.

    So ``python -m fovex_lib run 4`` works from a clone's root and from inside ``book/``.
    The library does not assume where it is installed; callers pass ``book_dir`` (the
    command line: ``--book DIR``) to use another folder.
    """
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "book").is_dir():
            return folder / "book"
        if folder.name == "book" and (folder / "chapters").is_dir():
            return folder
    return None


def list_chapters(book_dir: str | os.PathLike | None = None) -> list[Path]:
    """Every MyST chapter source (``book/*/*.md``): ``chapters/`` first, then the other folders."""
    book = Path(book_dir) if book_dir is not None else book_root()
    if book is None or not book.is_dir():
        return []
    return sorted(
        (p for p in book.glob("*/*.md") if p.is_file()),
        key=lambda p: (p.parent.name != "chapters", p.parent.name, p.name),
    )


def resolve_chapter(spec: str | os.PathLike, book_dir: str | os.PathLike | None = None) -> Path:
    """A chapter file from a number (``"4"``, ``"04"``, ``"A"``), a name or a path."""
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(f"chapter must be a number, a name or a path, got {spec!r}.")
    path = Path(spec)
    if path.suffix in (".md", ".ipynb"):
        if not path.is_file():
            raise FileNotFoundError(f"chapter file not found: {str(path)!r}")
        return path.resolve()
    chapters = list_chapters(book_dir)
    text = str(spec).strip().lower()

    def prefix(p: Path) -> str:
        return p.stem.split("_", 1)[0].lower()

    def rest(p: Path) -> str:
        parts = p.stem.split("_", 1)
        return parts[1].lower() if len(parts) == 2 else ""

    def same_number(a: str, b: str) -> bool:
        return a == b or (a.isdigit() and b.isdigit() and int(a) == int(b))

    for test in (
        lambda p: p.stem.lower() == text,
        lambda p: same_number(prefix(p), text),
        lambda p: rest(p) == text,
        lambda p: text in p.stem.lower(),
    ):
        found = [p for p in chapters if test(p)]
        if len(found) == 1:
            return found[0].resolve()
        if len(found) > 1:
            raise ValueError(f"chapter {spec!r} is ambiguous: {[p.stem for p in found]}; give more of its name.")
    available = ", ".join(p.stem for p in chapters) or "(no book folder found; pass a path to a .md or .ipynb)"
    raise ValueError(f"no chapter matches {spec!r}. Available chapters: {available}.")


def load_chapter(path: str | os.PathLike):
    """The chapter as an nbformat notebook (MyST ``.md`` through jupytext)."""
    path = Path(path)
    if path.suffix == ".md":
        import jupytext

        return jupytext.read(path)
    import nbformat

    return nbformat.read(path, as_version=4)


def read_parameters(notebook) -> dict[str, Parameter]:
    """The chapter's parameters, in order, from its code cell tagged ``parameters``.

    Every statement of that cell must be ``name = <Python literal>``; the text after a
    ``#`` on the same line is kept as the parameter's description.
    """
    cells = [c for c in notebook.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])]
    if not cells:
        raise ValueError("the chapter has no code cell tagged 'parameters', so it cannot be run with parameters.")
    if len(cells) > 1:
        raise ValueError("the chapter has more than one cell tagged 'parameters'; keep exactly one.")
    source = cells[0].source
    lines = source.splitlines()
    params: dict[str, Parameter] = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise ValueError(
                f"the parameters cell may only hold 'name = literal' lines; line {node.lineno} does not: "
                f"{lines[node.lineno - 1].strip()!r}"
            )
        name = node.targets[0].id
        try:
            default = ast.literal_eval(node.value)
        except ValueError:
            raise ValueError(
                f"parameter {name!r} (line {node.lineno}) has a default that is not a Python literal; "
                "papermill-able defaults must be literals."
            ) from None
        line = lines[(node.end_lineno or node.lineno) - 1]
        tail = line[node.end_col_offset :]
        comment = tail.split("#", 1)[1].strip() if "#" in tail else ""
        params[name] = Parameter(name, default, comment)
    return params


def format_parameters(params: dict[str, Parameter]) -> str:
    """One line per parameter: ``name = default  (kind)  # comment``."""
    width = max((len(f"{p.name} = {p.default!r}") for p in params.values()), default=0)
    out = []
    for p in params.values():
        text = f"{p.name} = {p.default!r}".ljust(width)
        out.append(f"  {text}  ({p.kind})" + (f"  # {p.comment}" if p.comment else ""))
    return "\n".join(out)


# --------------------------------------------------------------------------- values
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


def _kind_error(param: Parameter, value: Any, chapter: str, params: dict[str, Parameter]) -> ValueError:
    return ValueError(
        f"{chapter}: parameter {param.name!r} expects {param.kind} (default {param.default!r}), "
        f"got {value!r} ({type(value).__name__}).\nParameters of {chapter}:\n{format_parameters(params)}"
    )


def parse_value(param: Parameter, text: str, chapter: str = "chapter", params: dict | None = None) -> Any:
    """Turn command-line text into a value of the parameter's kind (ValueError otherwise)."""
    params = params or {param.name: param}
    default = param.default
    if default is not None and param.accepts_none and text.strip() == "None":
        return None
    if isinstance(default, str):
        return text
    if isinstance(default, bool):
        if text.strip().lower() in _TRUE:
            return True
        if text.strip().lower() in _FALSE:
            return False
        raise _kind_error(param, text, chapter, params)
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        if default is None:
            return text
        raise _kind_error(param, text, chapter, params) from None
    return validate_value(param, value, chapter, params)


def validate_value(param: Parameter, value: Any, chapter: str = "chapter", params: dict | None = None) -> Any:
    """Check a Python value against the parameter's kind; ints are accepted (as float) for floats."""
    params = params or {param.name: param}
    default = param.default
    if default is None or (value is None and param.accepts_none):
        return value
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok:
            value = float(value)
    elif isinstance(default, (list, tuple)):
        ok = isinstance(value, (list, tuple))
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise _kind_error(param, value, chapter, params)
    return value


def validate_parameters(params: dict[str, Parameter], values: dict, chapter: str = "chapter") -> dict:
    """Check names and kinds of ``values`` (Python objects); returns the (float-coerced) values."""
    unknown = [name for name in values if name not in params]
    if unknown:
        raise ValueError(
            f"{chapter} has no parameter {', '.join(map(repr, unknown))}.\n"
            f"Parameters of {chapter}:\n{format_parameters(params)}"
        )
    return {name: validate_value(params[name], value, chapter, params) for name, value in values.items()}


def parse_grid(specs: list[str]) -> dict[str, list[str]]:
    """``["steps=5,10", "model=a,b"]`` -> ``{"steps": ["5", "10"], "model": ["a", "b"]}``.

    A value list written as a Python list literal (``"size=[[1, 2], [3, 4]]"``) is taken
    element by element, so values may themselves contain commas.
    """
    grid: dict[str, list[str]] = {}
    for spec in specs:
        if "=" not in spec:
            raise ValueError(f"--grid expects name=v1,v2,..., got {spec!r}.")
        name, values = (s.strip() for s in spec.split("=", 1))
        if name in grid:
            raise ValueError(f"--grid names {name!r} twice; give all its values in one --grid.")
        try:
            literal = ast.literal_eval(values)
        except (ValueError, SyntaxError):
            literal = None
        if isinstance(literal, list):
            items = [repr(v) if not isinstance(v, str) else v for v in literal]
        else:
            items = [v.strip() for v in values.split(",")]
        if not name or not items or any(v == "" for v in items):
            raise ValueError(f"--grid {spec!r}: need a name and at least one non-empty value.")
        grid[name] = items
    return grid


def grid_combinations(grid: dict[str, list]) -> list[dict]:
    """Every combination (cartesian product) of the grid's values, as dicts; ``[{}]`` for no grid."""
    names = list(grid)
    return [dict(zip(names, combo)) for combo in itertools.product(*(grid[n] for n in names))]


def output_stem(chapter: Path, varying: dict, shard: str | None = None) -> str:
    """File name stem of a run: the chapter stem, then ``__name=value`` per grid value and the shard.

    Equivalent shard specs give the same name (``"0/2"``, ``"00/2"``, ``" 0/2"``: ``shard-0-of-2``).
    """
    from .cache import parse_shard

    parts = [chapter.stem]
    for name, value in varying.items():
        parts.append(f"{name}={value}")
    if shard is not None:
        parsed = parse_shard(shard)
        assert parsed is not None  # shard is not None
        index, count = parsed
        parts.append(f"shard-{index}-of-{count}")
    return re.sub(r"[^A-Za-z0-9._=+-]+", "_", "__".join(parts))


WIDGET_NOTE = (
    "*This chapter's interactive widgets are left out of batch reports: a report is static, and "
    "executing widget cells without a browser can hang the notebook client (jupyter/nbclient#312). "
    "Open the chapter in Jupyter to use them.*"
)


def drop_widget_cells(notebook):
    """A copy of ``notebook`` whose code cells tagged ``widget`` are replaced by a short note.

    The book tags its live-widget cells (ipywidgets ``interact``, always the last code
    cells of a chapter, used by nothing after them) so that batch runs skip them.
    """
    import copy

    import nbformat

    out = copy.deepcopy(notebook)
    out.cells = [
        nbformat.v4.new_markdown_cell(WIDGET_NOTE)
        if c.cell_type == "code" and "widget" in c.metadata.get("tags", [])
        else c
        for c in out.cells
    ]
    return out


# --------------------------------------------------------------------------- running
@contextlib.contextmanager
def _kernel_environment():
    """Let the ``python3`` kernel resolve to this Python (as ``make execute`` does)."""
    share = Path(sys.prefix) / "share" / "jupyter"
    saved = {k: os.environ.get(k) for k in ("PATH", "JUPYTER_PATH")}
    try:
        if (share / "kernels").is_dir():
            os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(share), saved["JUPYTER_PATH"]]))
        os.environ["PATH"] = os.pathsep.join(filter(None, [str(Path(sys.executable).parent), saved["PATH"]]))
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def check_timeout(timeout) -> float | None:
    """``timeout`` (seconds per cell) as a float, or None for no limit; ValueError unless positive and finite."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) or timeout <= 0:
        raise ValueError(
            f"timeout must be a positive number of seconds per cell (or None / no --timeout for no "
            f"limit), got {timeout!r}."
        )
    return float(timeout)


def check_kernel(kernel_name: str | None, notebook=None) -> str:
    """The Jupyter kernel a run will use (``kernel_name``, else the notebook's); ValueError when it does not exist.

    The error lists the installed kernels and how to add one.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    name = kernel_name
    if name is None and notebook is not None:
        name = notebook.metadata.get("kernelspec", {}).get("name")
    if not name:
        raise ValueError(
            "the chapter names no Jupyter kernel (metadata.kernelspec.name); pass one with --kernel "
            "(kernel_name=...), e.g. python3."
        )
    with _kernel_environment():
        manager = KernelSpecManager()
        try:
            manager.get_kernel_spec(name)
        except NoSuchKernel:
            available = ", ".join(sorted(manager.find_kernel_specs())) or "none"
            raise ValueError(
                f"there is no Jupyter kernel named {name!r} (installed: {available}). Pick one of "
                f"those, or install it, e.g. python -m ipykernel install --user --name {name}."
            ) from None
    return name


def _prepare_output_dir(out: Path) -> None:
    """Create the output folder and make sure a file can be written in it (ValueError otherwise)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"output {str(out)!r} exists and is not a folder; choose a folder for -o (output_dir).")
    blocker = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise ValueError(
            f"output folder {str(out)!r} cannot be created: {str(blocker)!r} is a file, not a folder. "
            "Choose another folder for -o (output_dir)."
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(prefix=".fovex-write-test-", dir=out)
        os.close(handle)
        os.unlink(probe)
    except OSError as err:
        raise ValueError(
            f"cannot write to output folder {str(out)!r}: {err.strerror or err}. Choose a folder you "
            "can write to for -o (output_dir)."
        ) from None


class _Stop(KeyboardInterrupt):
    """Raised in the main thread by SIGTERM while a run is going on (SIGINT raises KeyboardInterrupt)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def _stop_on_signals():
    """Turn the first SIGINT / SIGTERM into an exception (so that ``finally`` blocks clean up).

    Later signals are ignored while the run cleans up (shutting the kernel down, removing
    the temporary folder), which takes a few seconds at most. Outside the main thread
    (where Python delivers no signals) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping: list[int] = []

    def handler(signum, frame):
        if stopping:
            return  # already cleaning up after the first signal
        stopping.append(signum)
        raise _Stop(signum)

    saved = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)


def _settle_interrupted_cell() -> None:
    """Quietly finish the cell task an interrupt left on nbclient's event loop.

    The interrupt leaves nbclient waiting for the cell's reply; once the kernel is shut
    down that task ends with ``DeadKernelError``, which asyncio would print at exit as
    "Task exception was never retrieved". Best effort: any problem here is ignored.
    """
    import asyncio

    with contextlib.suppress(Exception):
        from jupyter_core.utils import ensure_event_loop

        loop = ensure_event_loop()
        if loop.is_running() or loop.is_closed():
            return
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


FAILED_NOTE = (
    "**This run FAILED and is incomplete: do not use its results.** The runner "
    "(`python -m fovex_lib run`) stopped it with this error:\n\n```text\n{error}\n```"
)


def _write_outputs(executed: Path, result: RunResult) -> None:
    """Write the executed notebook (and its HTML report) under the final names, atomically.

    A failed run gets a first cell that says so (:data:`FAILED_NOTE`); both files record
    ``metadata.fovex_run = {"status": "ok" | "failed", "error": ...}``. Each file is written
    to a temporary file in the output folder and renamed into place, so a failing write
    leaves the final name as it was (absent, or the previous file).
    """
    import nbformat

    from .results import atomic_write_text

    notebook = nbformat.read(executed, as_version=4)
    notebook.metadata["fovex_run"] = {"status": "ok" if result.ok else "failed", "error": result.error or None}
    if not result.ok:
        notebook.cells.insert(0, nbformat.v4.new_markdown_cell(FAILED_NOTE.format(error=result.error)))
    body = None
    if result.html is not None:
        from nbconvert import HTMLExporter

        try:
            body, _ = HTMLExporter().from_notebook_node(notebook)
        except Exception as err:  # the notebook is still worth keeping
            result.ok = False
            result.error = (result.error + "; " if result.error else "") + f"HTML export failed: {_short(err)}"
    atomic_write_text(result.notebook, nbformat.writes(notebook))
    if body is not None and result.html is not None:
        atomic_write_text(result.html, body)


def run_chapter(
    chapter: str | os.PathLike,
    output_dir: str | os.PathLike,
    parameters: dict | None = None,
    grid: dict[str, list] | None = None,
    overwrite: bool = False,
    shard: str | None = None,
    html: bool = True,
    kernel_name: str | None = None,
    timeout: float | None = None,
    book_dir: str | os.PathLike | None = None,
    raw: bool = False,
    keep_widgets: bool = False,
    log=print,
) -> list[RunResult]:
    """Execute a chapter once, or once per grid combination, into ``output_dir``.

    Args:
        chapter: number, name or path (see :func:`resolve_chapter`).
        output_dir: folder for ``<stem>.ipynb`` and ``<stem>.html`` (created if missing).
        parameters: fixed values, ``{name: value}`` (strings when ``raw=True``).
        grid: ``{name: [values]}``; one run per combination (strings when ``raw=True``).
        overwrite: replace existing outputs; otherwise FileExistsError before anything runs.
        shard: ``"i/n"`` passed as the chapter's ``shard`` parameter (the chapter must have
            one) and added to the output names, both in canonical form (``" 00/2"`` -> ``"0/2"``).
        html: also write the HTML report.
        kernel_name: Jupyter kernel (default: the notebook's, normally ``python3``); it must exist.
        timeout: seconds per cell (None: no limit); a positive, finite number.
        raw: values are command-line text, parsed by :func:`parse_value`.
        keep_widgets: also execute the cells tagged ``widget`` (see :func:`drop_widget_cells`).
        log: where progress lines go (``print``; None for silence).

    Returns:
        One :class:`RunResult` per run; failed runs have ``ok=False`` and ``error`` set, and
        their files are marked as failed (module docstring).

    Raises:
        ValueError / FileExistsError / FileNotFoundError before anything runs (bad values,
        unknown kernel, unusable output folder, existing outputs); :class:`RunInterrupted`
        when SIGINT or SIGTERM stops a run (nothing is then written for that run).
    """
    from .cache import format_shard

    log = log or (lambda *a, **k: None)
    timeout = check_timeout(timeout)
    path = resolve_chapter(chapter, book_dir)
    name = path.stem
    notebook = load_chapter(path)
    params = read_parameters(notebook)
    if not keep_widgets:
        notebook = drop_widget_cells(notebook)
    parameters, grid = dict(parameters or {}), dict(grid or {})
    both = set(parameters) & set(grid)
    if both:
        raise ValueError(f"{sorted(both)} given both as a fixed parameter and in the grid; give each once.")
    if shard is not None:
        shard = format_shard(shard)
        if "shard" not in params:
            raise ValueError(
                f"{name} has no 'shard' parameter, so it cannot be split into shards.\n"
                f"Parameters of {name}:\n{format_parameters(params)}"
            )
        parameters["shard"] = shard

    def convert(values: dict) -> dict:
        unknown = [n for n in values if n not in params]
        if unknown:
            validate_parameters(params, {n: None for n in unknown}, name)  # raises with the list
        if raw:
            return {n: (v if n == "shard" else parse_value(params[n], v, name, params)) for n, v in values.items()}
        return validate_parameters(params, values, name)

    fixed = convert(parameters)
    combos = grid_combinations(grid)
    runs = []
    for combo in combos:  # validate everything before running anything
        varying = convert(combo)
        stem = output_stem(path, {n: combo[n] for n in grid}, shard)
        runs.append(({**fixed, **varying}, stem))
    stems = [stem for _, stem in runs]
    if len(set(stems)) != len(stems):
        raise ValueError("two grid combinations map to the same output name; use distinct values.")
    kernel_name = check_kernel(kernel_name, notebook)

    out = Path(output_dir)
    existing = [
        str(out / f"{stem}{ext}") for _, stem in runs for ext in (".ipynb", ".html") if (out / f"{stem}{ext}").exists()
    ]
    if existing and not overwrite:
        raise FileExistsError(
            f"these outputs exist already: {existing}. Pass --overwrite (overwrite=True) "
            "to replace them, or choose another output folder."
        )
    _prepare_output_dir(out)

    import nbformat
    import papermill

    results: list[RunResult] = []
    try:
        with _stop_on_signals(), tempfile.TemporaryDirectory(prefix="fovex-run-") as tmp:
            source = Path(tmp) / f"{name}.ipynb"
            nbformat.write(notebook, source)
            for number, (values, stem) in enumerate(runs, 1):
                nb_path, html_path = out / f"{stem}.ipynb", (out / f"{stem}.html" if html else None)
                executed = Path(tmp) / f"{stem}.executed.ipynb"  # papermill saves as it goes: keep it out of sight
                result = RunResult(name, values, nb_path, html_path)
                shown = ", ".join(f"{k}={v!r}" for k, v in values.items()) or "defaults"
                log(f"[{number}/{len(runs)}] {name} ({shown}) -> {nb_path}")
                start = time.perf_counter()
                try:
                    with _kernel_environment():
                        papermill.execute_notebook(
                            str(source),
                            str(executed),
                            parameters=values,
                            cwd=str(path.parent),
                            kernel_name=kernel_name,
                            progress_bar=False,
                            execution_timeout=timeout,
                        )
                    result.ok = True
                except Exception as err:  # a failed run is reported; the grid goes on
                    result.error = f"{type(err).__name__}: {_short(err)}"
                result.seconds = time.perf_counter() - start
                if executed.exists():
                    try:
                        _write_outputs(executed, result)
                    except Exception as err:  # e.g. a full disk: the final names are left as they were
                        result.ok = False
                        result.error = (
                            result.error + "; " if result.error else ""
                        ) + f"writing the outputs failed: {type(err).__name__}: {err}"
                else:
                    result.ok = False
                    result.error = result.error or "papermill wrote no notebook"
                log(
                    f"    {'ok' if result.ok else 'FAILED'} in {result.seconds:.1f} s"
                    + (f": {result.error}" if result.error else "")
                )
                results.append(result)
    except KeyboardInterrupt as err:  # SIGINT (KeyboardInterrupt) or SIGTERM (_Stop)
        _settle_interrupted_cell()
        stopped = RunInterrupted(getattr(err, "signum", signal.SIGINT), results)
        log(f"    {stopped}")
        raise stopped from None
    return results


def _short(err: Exception) -> str:
    """The last meaningful line of an error (papermill's messages hold whole tracebacks)."""
    ename, evalue = getattr(err, "ename", None), getattr(err, "evalue", None)
    if ename:
        return f"{ename}: {evalue}"
    lines = [line for line in str(err).strip().splitlines() if line.strip()]
    return lines[-1] if lines else repr(err)
