"""Engine tests need the IS-Net model: the Makefile runs ``openbg models fetch`` first; when the model
is missing the engine tests fail with the command to run."""

from __future__ import annotations

import pytest
from openbg_emulator import models


@pytest.fixture(scope="session", autouse=True)
def _model_installed() -> None:
    if not models.is_installed("medium"):
        pytest.fail(
            f"IS-Net model not installed at {models.model_path('medium')}: run `openbg models fetch` "
            "(or `make models`) before the engine tests",
            pytrace=False,
        )
