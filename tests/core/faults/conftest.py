"""The ``fault`` fixture: one row of the fault matrix per scenario (tests/faultmatrix.py);
the table is printed in the terminal summary of the core suite."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[2]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

import faultmatrix  # noqa: E402


@pytest.fixture
def fault(request: pytest.FixtureRequest) -> faultmatrix.FaultFixture:
    matrix = faultmatrix.install(request.config, "core")
    return faultmatrix.FaultFixture(matrix, request.node.nodeid)
