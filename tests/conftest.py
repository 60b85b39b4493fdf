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


@pytest.fixture(scope="session")
def synthetic():
    """A synthetic bank world where most rules fire (make_transactions 1,500 x 60, seed 7) and its configuration."""
    bundle, _ = fm.datasets.make_transactions(1500, 60, n_per_typology=2, random_state=7, jurisdiction="US")
    return bundle, fm.Config(jurisdiction="US")


@pytest.fixture(scope="session")
def synthetic_pandas(synthetic):
    """The pandas engine's alerts of :func:`synthetic`, one rule at a time."""
    from followmoney.detect.score import score

    bundle, cfg = synthetic
    return score(bundle, cfg, threads=1)


@pytest.fixture(autouse=True)
def _doctest_cwd(request, monkeypatch):
    """Doctests use repo-relative paths (tests/data/...): run them from the repo root."""
    if request.node.__class__.__name__ == "DoctestItem":
        monkeypatch.chdir(REPO)
