"""Command line: ``python -m fovex_lib <command>``.

Commands::

    python -m fovex_lib list                      # the book's chapters
    python -m fovex_lib params <chapter>          # a chapter's parameters and defaults
    python -m fovex_lib run <chapter> -o DIR [-p name value ...] [--grid name=v1,v2 ...]
                                      [--shard i/n | --shard env] [--overwrite] [--no-html]

``run`` executes the chapter with papermill and writes ``DIR/<stem>.ipynb`` and
``DIR/<stem>.html`` (see :mod:`fovex_lib.tools.runner`). ``<chapter>`` is a number (``4``,
``A``), a name (``attribution``) or a path to a ``.md``/``.ipynb``. ``--shard env``
takes the shard from ``torchrun`` (``RANK``/``WORLD_SIZE``) or a job array (Slurm's
``SLURM_ARRAY_TASK_ID``/``SLURM_ARRAY_TASK_COUNT``, or ``SHARD_INDEX``/``SHARD_COUNT``);
under ``torchrun`` each process's kernel sees only the GPU ``LOCAL_RANK`` (through
``CUDA_VISIBLE_DEVICES``), so ``-p device cuda`` is right for every process.

Exit status: 0 when every run succeeded, 1 when one or more runs failed (their files are
marked as failed), 2 for a usage or validation error (nothing was run: unknown parameter
or kernel, bad value or ``--timeout``, an output folder that cannot be written, a bad
``--shard`` or shard environment variable), 130 / 143 when SIGINT (Ctrl-C) / SIGTERM
stopped the run (nothing was written for the run in progress; see :mod:`fovex_lib.tools.runner`).
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys

from .tools.runner import (
    RunInterrupted,
    format_parameters,
    list_chapters,
    load_chapter,
    parse_grid,
    read_parameters,
    resolve_chapter,
    run_chapter,
)


def _timeout(text: str) -> float:
    """``--timeout``: a positive, finite number of seconds (argparse reports anything else, exit status 2)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(
            f"expects a positive number of seconds per cell, got {text!r} (leave --timeout out for no limit)"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fovex_lib", description="Run FovEx workbook chapters as batch jobs."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    book_help = "the book's folder (default: ./book, i.e. run from the repository's root)"
    listing = sub.add_parser("list", help="list the book's chapters")
    listing.add_argument("--book", default=None, metavar="DIR", help=book_help)
    params = sub.add_parser("params", help="show a chapter's parameters")
    params.add_argument("chapter", help="number, name or path of the chapter")
    params.add_argument("--book", default=None, metavar="DIR", help=book_help)
    run = sub.add_parser("run", help="execute a chapter into a notebook and an HTML report")
    run.add_argument("--book", default=None, metavar="DIR", help=book_help)
    run.add_argument("chapter", help="number (4, A), name (attribution) or path (.md/.ipynb) of the chapter")
    run.add_argument("-o", "--output", required=True, help="output folder for <stem>.ipynb and <stem>.html")
    run.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="set a parameter (repeatable); the value is parsed to the default's type",
    )
    run.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="NAME=V1,V2",
        help="one run per value (repeatable: one run per combination)",
    )
    run.add_argument(
        "--shard",
        default=None,
        metavar="i/n|env",
        help="pass shard i/n (0-based) to the chapter's 'shard' parameter; 'env' reads it from "
        "torchrun / job-array variables",
    )
    run.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    run.add_argument("--no-html", action="store_true", help="write the executed notebook only")
    run.add_argument(
        "--keep-widgets",
        action="store_true",
        help="also execute the chapter's live-widget cells (left out of reports by default)",
    )
    run.add_argument("--kernel", default=None, help="Jupyter kernel name (default: the notebook's, python3)")
    run.add_argument("--timeout", type=_timeout, default=None, help="seconds allowed per cell (default: no limit)")
    return parser


def _shard(value: str | None) -> str | None:
    from .tools.cache import shard_from_env

    if value != "env":
        return value
    shard = shard_from_env()
    if shard is None:
        raise ValueError(
            "--shard env: none of RANK/WORLD_SIZE (torchrun), SLURM_ARRAY_TASK_ID/"
            "SLURM_ARRAY_TASK_COUNT or SHARD_INDEX/SHARD_COUNT is set."
        )
    if "LOCAL_RANK" in os.environ and "CUDA_VISIBLE_DEVICES" not in os.environ:
        os.environ["CUDA_VISIBLE_DEVICES"] = os.environ["LOCAL_RANK"]  # one GPU per torchrun process
    return shard


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            chapters = list_chapters(args.book)
            if not chapters:
                raise ValueError(
                    f"no chapters found in {args.book or './book'}: run from the repository's root or pass --book DIR."
                )
            for path in chapters:
                print(f"{path.stem:32s} {path}")
            return 0
        if args.command == "params":
            path = resolve_chapter(args.chapter, args.book)
            print(f"Parameters of {path.stem}:")
            print(format_parameters(read_parameters(load_chapter(path))))
            return 0
        # the chapter's kernel records this in the provenance of stored tables (fovex_lib.tools.results)
        os.environ["FOVEX_RUN_COMMAND"] = "python -m fovex_lib " + shlex.join(sys.argv[1:] if argv is None else argv)
        parameters = {}
        for name, value in args.parameter:
            if name in parameters:
                raise ValueError(f"-p {name} is given twice.")
            parameters[name] = value
        results = run_chapter(
            args.chapter,
            args.output,
            parameters=parameters,
            grid=parse_grid(args.grid),
            overwrite=args.overwrite,
            shard=_shard(args.shard),
            html=not args.no_html,
            kernel_name=args.kernel,
            timeout=args.timeout,
            raw=True,
            keep_widgets=args.keep_widgets,
            book_dir=args.book,
        )
    except RunInterrupted as stop:
        print(f"\nstopped: {stop}", file=sys.stderr)
        for r in stop.results:
            print(f"  {'ok    ' if r.ok else 'FAILED'} {r.seconds:7.1f} s  {r.notebook}", file=sys.stderr)
        return stop.exit_code
    except (ValueError, TypeError, OSError) as err:  # OSError includes FileNotFoundError, FileExistsError
        print(f"error: {err}", file=sys.stderr)
        return 2
    failed = [r for r in results if not r.ok]
    print(f"\n{len(results) - len(failed)} of {len(results)} run(s) succeeded.")
    for r in results:
        outputs = ", ".join(str(p) for p in (r.notebook, r.html) if p is not None and p.exists())
        print(
            f"  {'ok    ' if r.ok else 'FAILED'} {r.seconds:7.1f} s  {outputs}"
            + (f"\n         {r.error}" if r.error else "")
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
