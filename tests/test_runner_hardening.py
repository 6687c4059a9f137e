"""Issue 13, items 5, 6 and 11 (runner / command-line part): interrupted and failed runs leave
nothing that looks complete, outputs are written atomically, and bad options are clear errors
(exit status 2) checked before anything runs."""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import nbformat
import pytest

from fovex_lib.__main__ import main
from fovex_lib.tools.runner import output_stem, run_chapter

from conftest import file_size_limit

CHAPTER = Path(__file__).parent / "fixtures" / "runner_chapter.md"

#: A chapter whose run ``n == slow_at`` writes its kernel's pid to ``marker`` and then sleeps,
#: and whose run ``n == fail_at`` raises.
SLOW_CHAPTER = textwrap.dedent("""\
    ---
    jupytext:
      text_representation:
        extension: .md
        format_name: myst
    kernelspec:
      display_name: Python 3
      language: python
      name: python3
    ---

    # A chapter that can fail or hang

    ```{code-cell} ipython3
    :tags: [parameters]

    n = 1            # the run's number
    fail_at = -1     # raise when n equals this
    slow_at = -1     # sleep when n equals this
    marker = ""      # file that receives the kernel's pid when the sleep starts
    ```

    ```{code-cell} ipython3
    import os
    import time

    if n == fail_at:
        raise RuntimeError(f"asked to fail at n={n}")
    if n == slow_at:
        with open(marker, "w") as handle:
            handle.write(str(os.getpid()))
        time.sleep(120)
    print(f"DONE n={n}")
    ```
    """)


@pytest.fixture
def slow_chapter(tmp_path):
    path = tmp_path / "slow.md"
    path.write_text(SLOW_CHAPTER)
    return path


def wait_for(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {seconds} s")
        time.sleep(0.1)


def process_gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def run_status(path):
    return nbformat.read(path, as_version=4).metadata.get("fovex_run", {}).get("status")


# --------------------------------------------------------------------------- item 5: interrupted / failed runs
@pytest.mark.slow
def test_sigint_stops_the_grid_and_leaves_only_finished_or_marked_runs(slow_chapter, tmp_path, monkeypatch):
    """Run 1 succeeds, run 2 fails, run 3 is interrupted by SIGINT while its cell sleeps."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    marker, out = tmp_path / "kernel.pid", tmp_path / "out"

    def interrupt_when_slow():
        with contextlib.suppress(AssertionError):
            wait_for(marker.exists, 90, "the slow cell")
            time.sleep(0.3)
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_when_slow, daemon=True).start()
    with pytest.raises(KeyboardInterrupt) as stopped:
        run_chapter(
            slow_chapter,
            out,
            parameters={"fail_at": 2, "slow_at": 3, "marker": str(marker)},
            grid={"n": [1, 2, 3]},
            log=None,
        )
    assert marker.exists(), "the interrupt came before the slow cell started"
    # nothing under the interrupted run's names; the finished ones are complete or clearly failed
    assert sorted(p.name for p in out.iterdir()) == [
        "slow__n=1.html",
        "slow__n=1.ipynb",
        "slow__n=2.html",
        "slow__n=2.ipynb",
    ]
    assert run_status(out / "slow__n=1.ipynb") == "ok"
    failed = nbformat.read(out / "slow__n=2.ipynb", as_version=4)
    assert run_status(out / "slow__n=2.ipynb") == "failed"
    assert "This run FAILED" in failed.cells[0].source and "asked to fail at n=2" in failed.cells[0].source
    assert "This run FAILED" in (out / "slow__n=2.html").read_text(encoding="utf-8")
    # the temporary folder is gone and the kernel was shut down
    assert not list(temp.glob("fovex-run-*"))
    wait_for(lambda: process_gone(int(marker.read_text())), 15, "the kernel to exit")
    # the finished runs are reported with the interrupt
    assert [r.ok for r in stopped.value.results] == [True, False] and stopped.value.exit_code == 130


@pytest.mark.slow
def test_sigterm_on_the_command_line_exits_nonzero_and_cleans_up(slow_chapter, tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    marker, out = tmp_path / "kernel.pid", tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "fovex_lib",
        "run",
        str(slow_chapter),
        "-o",
        str(out),
        "--no-html",
        "-p",
        "slow_at",
        "1",
        "-p",
        "marker",
        str(marker),
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(temp)}
    )
    try:
        wait_for(lambda: marker.exists() or proc.poll() is not None, 90, "the slow cell")
        assert marker.exists(), proc.communicate()
        time.sleep(0.3)
        proc.terminate()  # SIGTERM, as a cluster's time limit sends it
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, stderr
    assert "SIGTERM" in stderr
    assert list(out.iterdir()) == []  # no notebook that looks complete, no temporary file
    assert not list(temp.glob("fovex-run-*"))
    wait_for(lambda: process_gone(int(marker.read_text())), 15, "the kernel to exit")


# --------------------------------------------------------------------------- item 6: atomic outputs


def fake_papermill(monkeypatch, after_write=None, calls=None):
    """Replace papermill's execution: write a 'executed' notebook with a large output (no kernel)."""
    import papermill

    def execute_notebook(input_path, output_path, parameters=None, **kwargs):
        if calls is not None:
            calls.append({"output": output_path, "parameters": parameters})
        nb = nbformat.read(input_path, as_version=4)
        cell = nbformat.v4.new_code_cell("print('x' * 200000)")
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 200_000)]
        nb.cells.append(cell)
        nbformat.write(nb, output_path)
        if after_write is not None:
            after_write()
        return nb

    monkeypatch.setattr(papermill, "execute_notebook", execute_notebook)


def test_outputs_failing_midway_leave_nothing_under_the_final_names(tmp_path, monkeypatch):
    stack = contextlib.ExitStack()
    # the disk "fills up" right after the run: every later write stops at 50 kB
    fake_papermill(monkeypatch, after_write=lambda: stack.enter_context(file_size_limit(50_000)))
    with stack:
        result = run_chapter(CHAPTER, tmp_path / "new", log=None)[0]
    assert list((tmp_path / "new").iterdir()) == []  # no truncated file, no temporary file
    assert not result.ok and "writing the outputs failed" in result.error

    # with --overwrite, the earlier outputs stay intact
    old = tmp_path / "old"
    old.mkdir()
    (old / "runner_chapter.ipynb").write_text("earlier notebook")
    (old / "runner_chapter.html").write_text("earlier report")
    with stack:
        result = run_chapter(CHAPTER, old, overwrite=True, log=None)[0]
    assert sorted(p.name for p in old.iterdir()) == ["runner_chapter.html", "runner_chapter.ipynb"]
    assert (old / "runner_chapter.ipynb").read_text() == "earlier notebook"
    assert (old / "runner_chapter.html").read_text() == "earlier report"
    assert not result.ok


# --------------------------------------------------------------------------- item 11: clear errors
def test_equivalent_shard_specs_give_the_same_output_and_parameter(tmp_path, monkeypatch):
    names = {output_stem(CHAPTER, {}, spec) for spec in ["0/2", "00/2", " 0/2", "0 / 2 "]}
    assert names == {"runner_chapter__shard-0-of-2"}
    calls = []
    fake_papermill(monkeypatch, calls=calls)
    for spec in ["00/2", " 0/2"]:
        result = run_chapter(CHAPTER, tmp_path, shard=spec, html=False, overwrite=True, log=None)[0]
        assert result.ok and result.notebook.name == "runner_chapter__shard-0-of-2.ipynb"
    assert [c["parameters"]["shard"] for c in calls] == ["0/2", "0/2"]
    assert run_status(tmp_path / "runner_chapter__shard-0-of-2.ipynb") == "ok"


def cli(argv, monkeypatch, capsys):
    """``python -m fovex_lib`` in this process: (exit status, stderr)."""
    monkeypatch.setenv("FOVEX_RUN_COMMAND", "test")  # main() sets it; restored after the test
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse errors
        code = stop.code
    return code, capsys.readouterr().err


def test_output_under_a_file_is_exit_status_2(tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("x")
    code, err = cli(["run", str(CHAPTER), "-o", str(tmp_path / "file" / "reports")], monkeypatch, capsys)
    assert code == 2 and "is a file, not a folder" in err and "Traceback" not in err
    code, err = cli(["run", str(CHAPTER), "-o", str(tmp_path / "file")], monkeypatch, capsys)
    assert code == 2 and "not a folder" in err


def test_read_only_output_is_exit_status_2(tmp_path, monkeypatch, capsys):
    if os.geteuid() == 0:  # root writes anywhere on disk; /sys refuses new entries even to root
        target = Path("/sys/fovex-test-reports")
        if not Path("/sys").is_dir():
            pytest.skip("needs /sys (Linux) to find a read-only place as root")
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        target = locked / "reports"
    code, err = cli(["run", str(CHAPTER), "-o", str(target)], monkeypatch, capsys)
    assert code == 2 and "cannot write to output folder" in err and "Traceback" not in err


@pytest.mark.parametrize("value", ["nan", "inf", "-5", "0", "soon"])
def test_bad_timeout_is_exit_status_2(value, tmp_path, monkeypatch, capsys):
    code, err = cli(["run", str(CHAPTER), "-o", str(tmp_path / "out"), "--timeout", value], monkeypatch, capsys)
    assert code == 2 and "--timeout" in err and "positive number" in err
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="positive number"):
        run_chapter(CHAPTER, tmp_path / "out", timeout=float("nan"))


def test_unknown_kernel_is_exit_status_2_before_anything_runs(tmp_path, monkeypatch, capsys):
    code, err = cli(
        ["run", str(CHAPTER), "-o", str(tmp_path / "out"), "--kernel", "no-such-kernel"], monkeypatch, capsys
    )
    assert code == 2 and "no Jupyter kernel named 'no-such-kernel'" in err and "python3" in err
    assert not (tmp_path / "out").exists()


def test_malformed_shard_variable_is_named_on_the_command_line(tmp_path, monkeypatch, capsys):
    for name in ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SHARD_INDEX", "SHARD_COUNT", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RANK", "zero")
    monkeypatch.setenv("WORLD_SIZE", "2")
    code, err = cli(["run", str(CHAPTER), "-o", str(tmp_path / "out"), "--shard", "env"], monkeypatch, capsys)
    assert code == 2 and "RANK='zero'" in err
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- interrupted, then re-run
#: A chapter that scores FovEx on 8 random images through the result cache (2 images per batch)
#: and stores the table. Run ``slow_at`` of the explainer writes ``marker`` and sleeps, so the test
#: can interrupt it half way, after two batches are in the cache.
CACHED_CHAPTER = textwrap.dedent('''\
    ---
    jupytext:
      text_representation:
        extension: .md
        format_name: myst
    kernelspec:
      display_name: Python 3
      language: python
      name: python3
    ---

    # A chapter with a cached table

    ```{code-cell} ipython3
    :tags: [parameters]

    cache_dir = ""   # the result cache
    table = ""       # where the table is stored
    slow_at = -1     # the explainer call that sleeps
    marker = ""      # file that receives the kernel's pid when the sleep starts
    ```

    ```{code-cell} ipython3
    import os
    import time

    import torch
    from torch import nn

    from fovex_lib import FovEx
    from fovex_lib.tools.cache import ResultCache, explainer_settings
    from fovex_lib.metrics.evaluate import evaluate_method
    from fovex_lib.tools.results import provenance, save_table

    gen = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 5, stride=2, padding=2), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
                          nn.Flatten(), nn.Linear(128, 5))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    model.eval()
    images = torch.rand(8, 3, 32, 32, generator=gen)
    fovex = FovEx(model, scanpath_length=2, steps=2, blur_kernel_size=5, blur_sigma=2.0)


    class SleepsOnce:
        """FovEx, except that call number ``slow_at`` first sleeps (the test interrupts it)."""

        name = "FovEx"

        def __init__(self):
            self.calls = 0

        def settings(self):
            return explainer_settings(fovex)

        def __call__(self, batch, target=None):
            self.calls += 1
            if self.calls == slow_at:
                with open(marker, "w") as handle:
                    handle.write(str(os.getpid()))
                time.sleep(120)
            return fovex(batch, target)


    cache = ResultCache(cache_dir)
    scores = evaluate_method(model, SleepsOnce(), images, [f"img{i}" for i in range(8)], [i % 5 for i in range(8)],
                             settings={"step": 256, "deletion_substrate": "black", "insertion_substrate": "black"},
                             explain_batch=2, cache=cache)
    rows = [{"image_id": i, **{k: float(v[n]) for k, v in scores.values.items()}} for n, i in enumerate(scores.ids)]
    save_table(table, rows, provenance(wall_seconds=0.0, parameters={}))
    print(f"CACHE hits={cache.hits} misses={cache.misses}")
    ```
    ''')


@pytest.mark.slow
def test_interrupted_run_then_rerun_with_the_same_cache_gives_the_uninterrupted_table(tmp_path):
    chapter = tmp_path / "cached.md"
    chapter.write_text(CACHED_CHAPTER)
    marker = tmp_path / "kernel.pid"

    def run(name, **parameters):
        return run_chapter(
            chapter,
            tmp_path / name,
            parameters={
                "cache_dir": str(tmp_path / f"cache_{name}"),
                "table": str(tmp_path / f"{name}.csv"),
                **parameters,
            },
            html=False,
            log=None,
        )

    # the reference: one uninterrupted run with its own cache
    assert [r.ok for r in run("whole")] == [True]

    # interrupted in the third explainer call: two batches (4 images) are cached, nothing else is final
    def interrupt_when_slow():
        with contextlib.suppress(AssertionError):
            wait_for(marker.exists, 120, "the slow call")
            time.sleep(0.3)
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_when_slow, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        run("parts", slow_at=3, marker=str(marker))
    assert marker.exists(), "the interrupt came before the slow call"
    assert not (tmp_path / "parts.csv").exists() and not (tmp_path / "parts.provenance.json").exists()
    assert not (tmp_path / "parts").exists() or list((tmp_path / "parts").iterdir()) == []
    assert len(list((tmp_path / "cache_parts").glob("*.fxc"))) == 4
    # re-run with the same cache: the four cached images are read back, the other four computed
    (result,) = run("parts")
    assert result.ok
    executed = (tmp_path / "parts" / "cached.ipynb").read_text()
    assert "CACHE hits=4 misses=4" in executed
    assert (tmp_path / "parts.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
