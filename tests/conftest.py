"""Every test runs in its own temporary working directory, so default checkpoint and log folders land there."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _in_tmp_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
