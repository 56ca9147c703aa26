"""Pytest fixtures shared by the template's tests.

Use from a conftest.py with `pytest_plugins = ["tests.support.fixtures"]`
(root conftest only) or `from tests.support.fixtures import fake_github`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_github import FakeGitHub


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """A running fake GitHub API; `.url` goes into GITHUB_API_URL, `.env()` gives a full env."""
    with FakeGitHub() as fake:
        yield fake
