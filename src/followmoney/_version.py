"""The installed version of followmoney (a leaf module: imports nothing of the package)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("followmoney")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"
