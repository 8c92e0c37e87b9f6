"""For every test and doctest: temporary files go under the test's own ``tmp_path``, never loose in /tmp.

``tempfile.mkdtemp()`` in a doctest, a docs page or a test (and ``TMPDIR`` for the subprocesses they start)
points into ``tmp_path``, which pytest deletes once the test passes (``tmp_path_retention_policy``).
"""

from __future__ import annotations

import tempfile

import pytest


@pytest.fixture(autouse=True)
def _temporary_files_in_tmp_path(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
