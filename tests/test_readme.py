"""The README's Python snippets run, in order, as a newcomer would paste them."""

import pathlib
import re

README = pathlib.Path(__file__).parent.parent / "README.md"


def test_readme_snippets_run(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 3
    namespace = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["res"].nfev > 0
