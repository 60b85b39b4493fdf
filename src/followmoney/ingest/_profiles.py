"""TOML profiles shared by adapters (goAML code lists, bank CSV mappings): find, read, cache."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path

__all__ = ["load_toml_profile"]

_CACHE: dict[tuple, object] = {}


def load_toml_profile(profile: str | Path, bundled: Path, what: str, build: Callable[[dict, Path], object]):
    """Load a profile by bundled name or file path, build it once per file version.

    Parameters
    ----------
    profile : str or Path
        A bundled profile's name (letters, digits, ``_``, ``-``: a file
        ``<bundled>/<name>.toml``) or the path of a TOML file.
    bundled : Path
        Folder of the bundled profiles.
    what : str
        Name used in errors, e.g. ``"goAML profile"``.
    build : callable
        ``build(data, path)`` turns the parsed TOML into the profile object; raises
        ValueError on invalid content.

    Raises
    ------
    ValueError
        Unknown bundled name (the message lists the bundled ones), unreadable file, or
        invalid TOML (the message names the file).
    """
    if isinstance(profile, str) and re.fullmatch(r"[A-Za-z0-9_-]+", profile):
        path = bundled / f"{profile}.toml"
        if not path.is_file():
            known = sorted(p.stem for p in bundled.glob("*.toml"))
            raise ValueError(f"unknown {what} {profile!r}; bundled: {known}, or pass a path to a TOML file")
    else:
        path = Path(profile)
    try:
        key = (what, str(path.resolve()), path.stat().st_mtime_ns)
        if key in _CACHE:
            return _CACHE[key]
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{what} {path}: cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{what} {path}: not valid TOML: {exc}") from exc
    _CACHE[key] = built = build(data, path)
    return built
