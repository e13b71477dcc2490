"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import REPO

README = Path(__file__).resolve().parents[1] / "README.md"


def blocks() -> list[str]:
    found: list[str] = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    return found


def run(block: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    monkeypatch.chdir(REPO)
    exec(compile(block, str(README), "exec"), {"__name__": "readme"})
    return capsys.readouterr().out


def test_readme_has_four_examples() -> None:
    # The fourth, "Several replicas", needs a Redis: `test_redis.py` runs it.
    assert len(blocks()) == 4


def test_readme_example_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = run(blocks()[0], monkeypatch, capsys)
    assert "block 1 (delegate: invoice-agent) limits payment amount to 50.00" in out


def test_readme_holder_example_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    out = run(blocks()[1], monkeypatch, capsys)
    assert out.strip() == "invoice-agent True True"


def test_readme_entities_example_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run(blocks()[2], monkeypatch, capsys)
    assert out.strip() == (
        "forbidden by `tools-sensitive-files`: highly sensitive files are open only to agents"
        " acting for the finance team"
    )


ROOT_README = REPO / "README.md"


def test_project_readme_python_example_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    found: list[str] = re.findall(r"```python\n(.*?)```", ROOT_README.read_text(), re.S)
    assert len(found) == 1
    monkeypatch.chdir(REPO)
    exec(compile(found[0], str(ROOT_README), "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert out.strip() == "deny - block 1 (delegate: invoice-agent) limits payment amount to 50.00, requested `50.01`"
