"""The README's quick start runs as written (docs that match the code)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def quick_start_blocks() -> list[str]:
    """The ```python blocks of the README's "Quick start: the library" section, in order."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Quick start: the library", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_quick_start_has_its_three_steps():
    blocks = quick_start_blocks()
    assert len(blocks) == 3
    assert "FovEx" in blocks[0] and "make_explainer" in blocks[1] and "deletion" in blocks[2]


@pytest.mark.slow
def test_the_quick_start_runs_as_written(capsys):
    """About a minute on 2 CPU cores: FovEx and RISE at their published settings on one photo."""
    namespace: dict = {}
    for block in quick_start_blocks():
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["out"].saliency.shape == (1, 1, 224, 224)
    assert set(namespace["maps"]) == {"fovex", "gradcam", "rise"}
    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in printed if "deletion" in line] == ["fovex", "gradcam", "rise"]
