"""Shared fixtures: paths to the bundled sample data and to ../shared (skip when absent)."""

from pathlib import Path

import pytest

import followmoney as fm

REPO = Path(__file__).resolve().parents[1]
# ../shared beside the checkout; a git worktree under <project>/wt/<name> finds <project>/shared
SHARED = next((p for p in (REPO.parent / "shared", REPO.parents[1] / "shared") if p.is_dir()), REPO.parent / "shared")
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def shared():
    """The project's shared/ folder (real samples); tests using it skip where it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not present (CI and developer machines have it)")
    return SHARED


@pytest.fixture
def sample_data():
    return fm.sample_data_path()


@pytest.fixture
def data_dir():
    return DATA


@pytest.fixture(autouse=True)
def _doctest_cwd(request, monkeypatch):
    """Doctests use repo-relative paths (tests/data/...): run them from the repo root."""
    if request.node.__class__.__name__ == "DoctestItem":
        monkeypatch.chdir(REPO)
