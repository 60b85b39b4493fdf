"""Progress bars: on a terminal and in Jupyter by default, never a warning.

``tqdm.auto`` warns (``TqdmWarning: IProgress not found``) in every kernel without
ipywidgets, on import. :func:`progress_bar` picks the notebook bar only where
ipywidgets is installed and falls back to the plain text bar otherwise.
"""

from __future__ import annotations

import sys

__all__ = ["progress_bar", "in_notebook"]


def in_notebook() -> bool:
    """Whether the code runs in a Jupyter kernel (IPython's ZMQ shell)."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except Exception:  # pragma: no cover - IPython without a running shell
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def _widgets() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def progress_bar(iterable, *, progress: bool | None = None, **kwargs):
    """``iterable`` wrapped in a tqdm bar.

    Parameters
    ----------
    iterable : iterable
    progress : bool, optional
        True: always show; False: never; None (default): on a terminal, and in
        Jupyter where ipywidgets is installed (elsewhere a kernel would show the text
        bar as red stderr output).
    **kwargs
        Passed to tqdm (``desc``, ``unit``, ``leave``, ...).

    Returns
    -------
    tqdm iterator

    Examples
    --------
    >>> list(progress_bar(range(3), progress=False))
    [0, 1, 2]
    """
    widgets = in_notebook() and _widgets()
    if widgets:
        from tqdm.notebook import tqdm
    else:
        from tqdm.std import tqdm
    # None: tqdm shows the text bar only on a terminal; a kernel without ipywidgets has none
    disable = not progress if progress is not None else (False if widgets else None)
    return tqdm(iterable, disable=disable, **kwargs)
