"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import valet

from conftest import REPO

README = Path(__file__).resolve().parents[1] / "README.md"


def blocks() -> list[str]:
    found: list[str] = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    return found


def run(block: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    monkeypatch.chdir(REPO)
    exec(compile(block, str(README), "exec"), {"__name__": "readme"})
    return capsys.readouterr().out


def test_readme_has_six_examples() -> None:
    # The fourth, "Several replicas", needs a Redis: `test_redis.py` runs it.
    assert len(blocks()) == 6


def test_readme_mcp_server_and_agent_run_and_are_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The MCP tool server, served by uvicorn on loopback, and the agent calling it with
    the official client, each under 40 lines."""
    import socket
    import threading
    import time

    import uvicorn

    server_block, agent_block = blocks()[4], blocks()[5]
    assert "MCPServer" in server_block and "ValetAuth" in agent_block
    assert len(server_block.splitlines()) < 40 and len(agent_block.splitlines()) < 40
    issuer = valet.RootKeyPair.generate(key_id=1)
    issuer.write_private_file(tmp_path / "issuer.key")
    issuer.public().write_file(tmp_path / "issuer.pub")
    valet.SigningKey.generate().public().write_file(tmp_path / "owner.pub")
    valet.SigningKey.generate().write_private_file(tmp_path / "agent.key")
    (tmp_path / "policies").symlink_to(REPO / "policies")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    monkeypatch.chdir(tmp_path)
    served: dict[str, object] = {"__name__": "server"}
    exec(compile(server_block.replace("8000", port), str(README), "exec"), served)
    server = uvicorn.Server(uvicorn.Config(served["app"], host="127.0.0.1", port=int(port), log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        exec(compile(agent_block.replace("8000", port), str(README), "exec"), {"__name__": "agent"})
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert capsys.readouterr().out.splitlines() == [
        "09:00 stand-up, 14:00 review",
        "paid 42.00 USD to bob@example.com for alice@example.com",
    ]


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
