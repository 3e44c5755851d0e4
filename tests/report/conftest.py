"""Session fixture of the evidence-package tests: real inputs built once (tests/report/evidence.py)."""

from __future__ import annotations

import pytest

from .evidence import EvidenceInputs, build_inputs


@pytest.fixture(scope="session")
def evidence_inputs(tmp_path_factory: pytest.TempPathFactory) -> EvidenceInputs:
    return build_inputs(tmp_path_factory.mktemp("evidence"))
