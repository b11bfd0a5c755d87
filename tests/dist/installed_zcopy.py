"""A pytest plugin (`-p installed_zcopy`, with tests/dist on PYTHONPATH) for make dist-test: the
run stops at once unless `zcopy` is the package installed in the running virtualenv, at the
version expected (ZCOPY_EXPECT_VERSION), and is still that module when the run ends. Running
pytest from python/ must never import the source tree (python/zcopy) instead."""

from __future__ import annotations

import os
import sys

import pytest


def _installed_zcopy() -> str:
    import zcopy

    path = os.path.realpath(zcopy.__file__)
    prefix = os.path.realpath(sys.prefix)
    if not path.startswith(prefix + os.sep) or "site-packages" not in path:
        raise pytest.UsageError(f"zcopy was imported from {path}, not from the virtualenv {prefix}")
    expected = os.environ.get("ZCOPY_EXPECT_VERSION")
    if expected and zcopy.__version__ != expected:
        raise pytest.UsageError(f"zcopy.__version__ is {zcopy.__version__}, expected {expected}")
    return path


def pytest_report_header(config: pytest.Config) -> str:
    import zcopy

    return f"zcopy {zcopy.__version__}, installed: {_installed_zcopy()}"


def pytest_sessionstart(session: pytest.Session) -> None:
    _installed_zcopy()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _installed_zcopy()
