"""Data to try followmoney on: the bundled sample files and the synthetic generator."""

from pathlib import Path

from followmoney.datasets.multisource import make_multisource
from followmoney.datasets.synth import TRUTH_SCHEMA, TYPOLOGIES, make_transactions

__all__ = ["make_transactions", "make_multisource", "sample_data_path", "TYPOLOGIES", "TRUTH_SCHEMA"]


def sample_data_path() -> Path:
    """Folder of the bundled sample data (AMLSim slice and synthetic goAML reports).

    Returns
    -------
    pathlib.Path
        ``followmoney/sample_data`` in an installed wheel, else the repository's
        ``sample_data`` folder.

    Examples
    --------
    >>> (sample_data_path() / "goaml").is_dir()
    True
    """
    package = Path(__file__).resolve().parents[1]
    installed = package / "sample_data"  # wheel installs carry a copy
    return installed if installed.is_dir() else package.parents[1] / "sample_data"
