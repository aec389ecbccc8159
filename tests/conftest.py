"""Fixtures shared by every test of the custom integrations."""

import pytest


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let HA load the integrations under custom_components/."""
