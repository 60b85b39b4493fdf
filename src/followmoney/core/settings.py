"""One base for every settings class: typed fields, strict keys, declared ranges, TOML.

A settings class is a plain :func:`dataclasses.dataclass` that derives from
:class:`Settings` and declares its fields with :func:`setting`::

    @dataclass(frozen=True)
    class Windows(Settings):
        '''Windows of a detector.

        Parameters
        ----------
        hours : float
            Trailing window in hours.
        '''

        hours: float = setting(240.0, gt=0)

What the base gives every such class:

* **typed fields**: values are checked (and lists turned into tuples, ``"12.50"`` into
  ``Decimal("12.50")``, ISO text into dates, numpy scalars into Python numbers)
  according to the annotation, at construction;
* **declared ranges**: ``ge``/``gt``/``le``/``lt`` (on the value, or with ``items`` on
  every item of a tuple, list or dict) and ``keys`` (the allowed keys of a dict). An
  out-of-range value is a :class:`~followmoney.exceptions.ConfigError` naming the
  setting, the value and the accepted range;
* **strict keys**: :meth:`Settings.from_dict`, :meth:`Settings.from_toml` and
  :meth:`Settings.replace` refuse an unknown key with a ConfigError that names it and
  suggests the closest known one;
* **exact round trips** through :meth:`~Settings.to_dict` (plain, JSON-ready: tuples as
  lists, decimals as text, dates as ISO text) and :meth:`~Settings.to_toml`;
* **defaults documented once**: the default is written on the field only; the
  ``name : type`` line of the class docstring gets ``, default ...`` appended.

A dataclass base rather than pydantic: the settings are frozen dataclasses that callers
copy with :func:`dataclasses.replace` and ``Cls(**{**s.to_dict(), ...})``, hash and
compare, and importing pydantic would add about 0.1 s to every import of
:mod:`followmoney.core.config` for checks this module does in a few dozen lines.

Examples
--------
>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Windows(Settings):
...     '''Windows.
...
...     Parameters
...     ----------
...     hours : float
...         Trailing window in hours.
...     '''
...     hours: float = setting(240.0, gt=0)
...     night: tuple[int, int] = setting((0, 6), items=dict(ge=0, le=24))
>>> Windows.from_toml(Windows(hours=12).to_toml())
Windows(hours=12.0, night=(0, 6))
>>> Windows.from_dict({"hour": 3})
Traceback (most recent call last):
...
followmoney.exceptions.ConfigError: Windows: unknown key 'hour'; did you mean 'hours'?; known: hours, night
>>> Windows(night=(22, 30))
Traceback (most recent call last):
...
followmoney.exceptions.ConfigError: Windows.night[1] must be an int in [0, 24], got 30
>>> "hours : float, default 240.0" in Windows.__doc__
True
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from followmoney.exceptions import ConfigError

__all__ = ["Settings", "setting", "closest", "check_value", "unknown_keys"]

_META = "followmoney.setting"
_MISSING = dataclasses.MISSING


@dataclasses.dataclass(frozen=True)
class _Rule:
    """Declared constraints of one setting (or of its items)."""

    ge: Any = None
    gt: Any = None
    le: Any = None
    lt: Any = None
    keys: tuple | None = None
    items: _Rule | None = None

    def describe(self) -> str:
        """The accepted range as text: ``in [2, 8]``, ``> 0``, ``>= 1000``."""
        lo = (f"[{self.ge}", self.ge) if self.ge is not None else (f"({self.gt}", self.gt) if self.gt is not None else None
        hi = (f"{self.le}]", self.le) if self.le is not None else (f"{self.lt})", self.lt) if self.lt is not None else None
        if lo and hi:
            return f"in {lo[0]}, {hi[0]}"
        if lo:
            return f"{'>=' if self.ge is not None else '>'} {lo[1]}"
        if hi:
            return f"{'<=' if self.le is not None else '<'} {hi[1]}"
        return ""

    def admits(self, v) -> bool:
        """Whether ``v`` lies in the range (NaN never does)."""
        try:
            return not (
                (self.ge is not None and not v >= self.ge)
                or (self.gt is not None and not v > self.gt)
                or (self.le is not None and not v <= self.le)
                or (self.lt is not None and not v < self.lt)
            )
        except TypeError:
            return False


def setting(default=_MISSING, *, default_factory=_MISSING, ge=None, gt=None, le=None, lt=None,
            keys=None, items=None) -> Any:  # fmt: skip
    """Declare one field of a :class:`Settings` class, with its default and range.

    Parameters
    ----------
    default : object, optional
        The default value (immutable: a number, text, tuple).
    default_factory : callable, optional
        Makes the default of a mutable field (a dict).
    ge, gt, le, lt : number, optional
        Bounds on the value: at least, above, at most, below.
    keys : iterable of str, optional
        For a dict field: the keys it may have.
    items : dict, optional
        Bounds (``ge``/``gt``/``le``/``lt``) on every item of a tuple or list, or on
        every value of a dict.

    Returns
    -------
    dataclasses.Field

    Examples
    --------
    >>> setting(5, ge=2, le=8).metadata["followmoney.setting"].describe()
    'in [2, 8]'
    """
    rule = _Rule(ge=ge, gt=gt, le=le, lt=lt, keys=tuple(keys) if keys is not None else None,
                 items=_Rule(**items) if items else None)  # fmt: skip
    return dataclasses.field(default=default, default_factory=default_factory, metadata={_META: rule})


def closest(key: str, known) -> str:
    """``; did you mean 'x'?`` for the known name nearest ``key``, or ``""`` when none is near.

    Examples
    --------
    >>> closest("jursdiction", ["jurisdiction", "rules"])
    "; did you mean 'jurisdiction'?"
    """
    best = difflib.get_close_matches(str(key), [str(k) for k in known], n=1, cutoff=0.6)
    return f"; did you mean {best[0]!r}?" if best else ""


def unknown_keys(where: str, unknown, known, what: str = "key") -> ConfigError:
    """The ConfigError for unknown keys: names them, suggests the closest known one, lists the known.

    Parameters
    ----------
    where : str
        What the keys were given to (a class, a file, a rule id), first in the message.
    unknown, known : iterable of str
    what : str, default "key"
        What a key is called there (e.g. "parameter").

    Returns
    -------
    ConfigError
        To raise (or to wrap in a subclass).

    Examples
    --------
    >>> print(unknown_keys("ML-05", ["windows_days"], ["min_counterparties", "window_days"], "parameter"))
    ML-05: unknown parameter 'windows_days'; did you mean 'window_days'?; known: min_counterparties, window_days
    """
    unknown = [str(k) for k in unknown]
    names = ", ".join(repr(k) for k in unknown)
    plural = "s" if len(unknown) > 1 else ""
    return ConfigError(f"{where}: unknown {what}{plural} {names}{closest(unknown[0], known)}; known: {', '.join(known)}")


# --------------------------------------------------------------------------- typing

_KIND = {bool: "a boolean", int: "an int", float: "a number", str: "a text", Decimal: "a decimal",
         date: "a date (YYYY-MM-DD)"}  # fmt: skip


class _Bad(Exception):
    """A value that does not fit its type (internal; becomes a ConfigError)."""

    def __init__(self, where: str, kind: str, value):
        super().__init__(where)
        self.where, self.kind, self.value = where, kind, value


def _kind(tp) -> str:
    origin = typing.get_origin(tp)
    if tp in _KIND:
        return _KIND[tp]
    if origin in (tuple, list) or tp in (tuple, list):
        return "a list"
    if origin is dict or tp is dict:
        return "a table"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_kind(a) for a in typing.get_args(tp))
    return getattr(tp, "__name__", str(tp))


def _coerce(value, tp, where: str):
    """``value`` as type ``tp`` (see the module docstring), else raise :class:`_Bad`."""
    if tp is Any or tp is object:
        return value
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        for arm in args:
            try:
                return _coerce(value, arm, where)
            except _Bad:
                continue
        raise _Bad(where, _kind(tp), value)
    if tp is type(None):
        if value is None:
            return None
        raise _Bad(where, "None", value)
    if tp is bool:
        if isinstance(value, bool) or type(value).__name__ == "bool_":
            return bool(value)
        raise _Bad(where, _kind(tp), value)
    if tp is int:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool) and type(value).__name__ != "bool_":
            return int(value)
        raise _Bad(where, _kind(tp), value)
    if tp is float:
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and type(value).__name__ != "bool_":
            if math.isnan(float(value)):
                raise _Bad(where, _kind(tp), value)
            return float(value)
        raise _Bad(where, _kind(tp), value)
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, os.PathLike):
            return os.fspath(value)
        raise _Bad(where, _kind(tp), value)
    if tp is Decimal:  # never from a float: money is exact
        if isinstance(value, Decimal | str | int) and not isinstance(value, bool):
            try:
                d = Decimal(value.strip() if isinstance(value, str) else value)
            except (InvalidOperation, ValueError):
                raise _Bad(where, _kind(tp), value) from None
            if d.is_finite():
                return d
        raise _Bad(where, _kind(tp), value)
    if tp is date:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise _Bad(where, _kind(tp), value)
    if origin in (tuple, list) or tp in (tuple, list):
        if isinstance(value, set | frozenset):
            value = sorted(value)
        if not isinstance(value, list | tuple):
            raise _Bad(where, _kind(tp), value)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise _Bad(where, f"a list of {len(args)} items", value)
            out = [_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True))]
        else:
            item = args[0] if args else Any
            out = [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if (origin or tp) is tuple else out
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise _Bad(where, _kind(tp), value)
        kt, vt = args if args else (Any, Any)
        return {_coerce(k, kt, where): _coerce(v, vt, f"{where}.{k}") for k, v in value.items()}
    if isinstance(tp, type) and issubclass(tp, Settings):
        if isinstance(value, tp):
            return value
        if isinstance(value, Mapping):
            return tp.from_dict(value, origin=where)
        raise _Bad(where, "a table", value)
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise _Bad(where, _kind(tp), value)


def check_value(value, tp, where: str, *, ge=None, gt=None, le=None, lt=None):
    """``value`` as a settings field of type ``tp`` and range would take it, or a ConfigError.

    The one place where a setting's value is typed and range-checked: settings classes
    (through their fields) and rule parameters (:class:`followmoney.detect.rules.Param`)
    use it.

    Parameters
    ----------
    value : object
    tp : type
        ``int``, ``float``, ``Decimal``, ``str``, ``bool``, ``date`` or a typing form
        (``tuple[int, ...]``, ``dict[str, float]``, ``X | None``).
    where : str
        The setting's name in messages (e.g. ``"ML-05.window_days"``).
    ge, gt, le, lt : number, optional
        Bounds: at least, above, at most, below.

    Returns
    -------
    object
        ``value`` converted: ints stay ints (a float is refused for an int), an int is
        taken for a float, a Decimal comes from text or an int (never a float).

    Raises
    ------
    ConfigError
        Naming ``where``, the value and the accepted type or range.

    Examples
    --------
    >>> check_value(6, float, "ML-05.window_days", ge=1 / 24, le=3660)
    6.0
    >>> check_value(6.5, int, "ML-05.min_counterparties", ge=2)
    Traceback (most recent call last):
    ...
    followmoney.exceptions.ConfigError: ML-05.min_counterparties must be an int, got 6.5
    """
    return _take(value, tp, _Rule(ge=ge, gt=gt, le=le, lt=lt), where)


def _take(value, tp, rule: _Rule | None, where: str):
    """``value`` coerced to ``tp`` and checked against ``rule`` (ConfigError when it does not fit)."""
    try:
        value = _coerce(value, tp, where)
    except _Bad as bad:
        raise ConfigError(f"{bad.where} must be {bad.kind}, got {bad.value!r}") from None
    if rule is not None:
        _check(value, rule, where, tp)
    return value


def _check(value, rule: _Rule, where: str, tp) -> None:
    """Raise ConfigError when ``value`` (or one of its items) is outside ``rule``."""
    if rule.describe() and not rule.admits(value):
        raise ConfigError(f"{where} must be {_kind(tp)} {rule.describe()}, got {value!r}")
    if rule.keys is not None and isinstance(value, Mapping):
        extra = [k for k in value if k not in rule.keys]
        if extra:
            raise unknown_keys(where, extra, rule.keys)
    if rule.items is not None:
        args = typing.get_args(tp)
        if isinstance(value, Mapping):
            pairs = [(f"{where}.{k}", v, args[1] if len(args) == 2 else Any) for k, v in value.items()]
        else:
            pairs = [(f"{where}[{i}]", v, args[i] if len(args) > i and args[-1] is not Ellipsis else (args[0] if args else Any))
                     for i, v in enumerate(value)]  # fmt: skip
        for w, v, t in pairs:
            _check(v, rule.items, w, t)


def _plain(value):
    """JSON- and TOML-ready copy: tuples as lists, decimals as text, dates as ISO text."""
    if isinstance(value, Settings):
        return value.to_dict()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------- the base


class Settings:
    """Base of every settings class (see the module docstring).

    Subclasses are dataclasses (frozen or not) whose fields are declared with
    :func:`setting` or plain defaults. Cross-field checks go in :meth:`_validate`.
    """

    _types: typing.ClassVar[dict]

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls._types = {}
        cls.__doc__ = _document_defaults(cls)

    # ---------------------------------------------------------------- construction
    def __post_init__(self) -> None:
        cls = type(self)
        if not cls._types:
            cls._types = typing.get_type_hints(cls)
        for f in dataclasses.fields(self):
            tp = cls._types.get(f.name, Any)
            value = _take(getattr(self, f.name), tp, f.metadata.get(_META), f"{cls.__name__}.{f.name}")
            object.__setattr__(self, f.name, value)
        self._validate()

    def _validate(self) -> None:
        """Checks across fields, or beyond a range; raise ConfigError. Default: none."""

    # ---------------------------------------------------------------- dict and TOML
    @classmethod
    def field_names(cls) -> list[str]:
        """Names of the settings, in declaration order.

        Examples
        --------
        >>> from followmoney.core.config import Config
        >>> Config.field_names()
        ['jurisdiction', 'rules', 'disabled_rules', 'country_lists', 'fx_rates']
        """
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, data: Mapping, origin: str | None = None):
        """Settings from a dict shaped like :meth:`to_dict` (missing keys take their default).

        Parameters
        ----------
        data : mapping
            Setting name to value.
        origin : str, optional
            Where the dict came from (a file name), for messages; default the class name.

        Raises
        ------
        ConfigError
            On an unknown key (naming it and the closest known one), a value of the
            wrong type or out of its range.
        """
        where = origin or cls.__name__
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: expected a table of settings, got {type(data).__name__}")
        known = cls.field_names()
        unknown = [k for k in data if k not in known]
        if unknown:
            raise unknown_keys(where, unknown, known)
        return cls(**data)

    def to_dict(self) -> dict:
        """Plain, JSON-ready dict (lists for tuples, text for decimals and dates).

        :meth:`from_dict` turns it back into equal settings.
        """
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def to_toml(self) -> str:
        """TOML text of :meth:`to_dict`; :meth:`from_toml` turns it back into equal settings."""
        import tomli_w

        return tomli_w.dumps(self.to_dict())

    @classmethod
    def from_toml(cls, text_or_path: str | Path):
        """Settings from TOML text, or from a file (a :class:`~pathlib.Path`, or text ending in ``.toml``).

        Raises
        ------
        ConfigError
            Naming the file on a read or TOML syntax error, or as :meth:`from_dict`.
        """
        origin = None
        text = text_or_path
        if isinstance(text_or_path, Path) or (isinstance(text_or_path, str) and text_or_path.strip().endswith(".toml")):
            path = Path(str(text_or_path).strip())
            origin = str(path)
            try:
                text = path.read_text("utf-8")
            except OSError as exc:
                raise ConfigError(f"{path}: {exc.strerror or type(exc).__name__}") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{origin or cls.__name__}: {exc}") from None
        return cls.from_dict(data, origin=origin)

    def replace(self, **changes):
        """A copy with ``changes``, checked like a new instance.

        Raises
        ------
        ConfigError
            On an unknown setting (naming the closest known one) or a bad value.
        """
        known = self.field_names()
        unknown = [k for k in changes if k not in known]
        if unknown:
            raise unknown_keys(type(self).__name__, unknown, known)
        return dataclasses.replace(self, **changes)


def _document_defaults(cls) -> str | None:
    """``cls.__doc__`` with ``, default <value>`` after each field's ``name : type`` line."""
    doc = cls.__doc__
    if not doc or "__doc__" not in vars(cls):
        return doc
    ns = vars(cls)
    for name in ns.get("__annotations__", {}):
        if name.startswith("_") or name not in ns:
            continue
        raw = ns[name]
        if isinstance(raw, dataclasses.Field):
            if raw.default is not _MISSING:
                default = raw.default
            elif raw.default_factory is not _MISSING:
                default = raw.default_factory()
            else:
                continue
        else:
            default = raw
        pattern = re.compile(rf"^(\s*{re.escape(name)} : [^\n]*?)$", re.M)
        doc = pattern.sub(lambda m, d=default: m.group(1) if ", default" in m.group(1) else f"{m.group(1)}, default {d!r}", doc, count=1)
    return doc
