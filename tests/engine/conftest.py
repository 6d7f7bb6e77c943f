"""Engine tests need the IS-Net model: the Makefile runs ``openbg models fetch`` first; when the model
is missing the engine tests fail with the command to run."""

from __future__ import annotations

import pytest
from openbg_emulator import model_store
from openbg_emulator.settings import Settings


@pytest.fixture(scope="session", autouse=True)
def _model_installed() -> None:
    settings = Settings.from_env()
    if not model_store.is_installed("medium", settings):
        pytest.fail(
            f"IS-Net model not installed at {model_store.model_path('medium', settings)}: run `openbg models fetch` "
            "(or `make models`) before the engine tests",
            pytrace=False,
        )
