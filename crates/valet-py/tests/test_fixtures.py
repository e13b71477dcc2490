"""The shared test vectors of fixtures/ (also run by the Rust and command line tests)."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

import valet
from conftest import FIXTURES

CASES_FILE = FIXTURES / "cases.json"


def load_cases() -> list[dict[str, Any]]:
    if not CASES_FILE.exists():
        return []
    cases: list[dict[str, Any]] = json.loads(CASES_FILE.read_text())
    return cases


@pytest.mark.skipif(not CASES_FILE.exists(), reason="fixtures/cases.json is not present")
@pytest.mark.parametrize("case", load_cases(), ids=lambda c: str(c["name"]))
def test_case(case: dict[str, Any]) -> None:
    token = valet.Token.from_base64((FIXTURES / case["token"]).read_text())
    keys = valet.KeySet([valet.RootPublicKey.read_file(FIXTURES / k) for k in case["keys"]])
    now = datetime.datetime.fromisoformat(case["now"].replace("Z", "+00:00"))
    # The fixture tokens are bearer tokens: every case is for a verifier that accepts them.
    verdict = valet.Verifier(keys, accept_bearer_tokens=True).verify(token, case["request"], now=now)
    messages = [r["message"] for r in verdict.reasons]
    assert verdict.allowed == (case["expect"] == "allow"), messages
    if "reason_contains" in case:
        assert any(case["reason_contains"] in m for m in messages), messages
    # A verifier with the defaults refuses each of them, and says why.
    refused = valet.Verifier(keys).verify(token, case["request"], now=now)
    assert not refused.allowed
    if case["expect"] == "allow":
        assert [r["kind"] for r in refused.reasons] == ["holder"]
        assert "bearer token" in refused.reasons[0]["message"]


@pytest.mark.skipif(not (FIXTURES / "keys").exists(), reason="fixtures/keys is not present")
def test_fixture_private_key_signs_like_the_public_key(tmp_path: Path) -> None:
    text = (FIXTURES / "keys" / "root-1.private").read_text()
    pair = valet.RootKeyPair.from_private_text(text)
    assert pair.public() == valet.RootPublicKey.read_file(FIXTURES / "keys" / "root-1.public")
