"""The README's usage block runs as written."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_usage_block_runs(capsys):
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Usage\n\n```python\n(.*?)```", text, re.S)
    assert block, "README has no python block under '## Usage'"
    exec(compile(block.group(1), "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "log10_zell_expression" in out
