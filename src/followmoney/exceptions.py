"""The one exception family of followmoney.

Every error the library raises on purpose is a :class:`FollowMoneyError`. Each subclass
keeps :class:`ValueError` as a second base, so callers that catch ``ValueError`` keep
working. Messages name files, places (line, XPath, field), parameters, counts and
currency codes, never personal data (names, account or ID numbers, phones, raw rows).

The command line maps them to exit codes in one place (``followmoney.pipeline.EXIT_CODES``):

==========================  ====  ============================================
class                       code  meaning
==========================  ====  ============================================
:class:`InputError`         2     an input file cannot be read at all
:class:`SchemaError`        2     a table does not match its canonical schema
:class:`ReconciliationError` 2    records read differ from written + merged + rejected
:class:`ConfigError`        3     bad configuration, rule id or parameter
:class:`ParameterError`     3     a rule parameter is unknown or out of range
:class:`CatalogueError`     3     the rule catalogue file is invalid or does not match the rule code
:class:`TraceError`         3     an invalid trace request
:class:`RunError`           2     an output or previous run folder cannot be used
:class:`UnknownSubjectError` 2    a subject asked for is not in the run
:class:`ShareError`         2     a key, match-key export or disclosure package is unusable
==========================  ====  ============================================

Examples
--------
>>> from followmoney.exceptions import FollowMoneyError, InputError
>>> issubclass(InputError, FollowMoneyError), issubclass(InputError, ValueError)
(True, True)
"""

from __future__ import annotations

__all__ = [
    "FollowMoneyError",
    "InputError",
    "SchemaError",
    "ReconciliationError",
    "ConfigError",
    "ParameterError",
    "CatalogueError",
    "TraceError",
    "ConflictingDuplicateError",
    "RunError",
    "UnknownSubjectError",
    "ShareError",
]


class FollowMoneyError(Exception):
    """Base class of every error followmoney raises on purpose."""


class InputError(FollowMoneyError, ValueError):
    """A source file cannot be read at all. The message names the file and the place."""


class SchemaError(FollowMoneyError, ValueError):
    """A table does not match its canonical schema (missing column, wrong type)."""


class ReconciliationError(FollowMoneyError, ValueError):
    """Records read differ from rows written + merged + rejected for some file and table."""


class ConfigError(FollowMoneyError, ValueError):
    """Invalid configuration: unknown jurisdiction, unknown key, or a value out of range."""


class ParameterError(ConfigError):
    """A rule parameter is unknown or outside its allowed range; names the rule and parameter."""


class CatalogueError(ConfigError):
    """The rule catalogue (``followmoney/detect/rules/catalogue.toml``) is invalid, or a rule
    has code without a catalogue entry or an entry without code; names the file, rule id
    and parameter."""


class TraceError(FollowMoneyError, ValueError):
    """Invalid trace request (unknown method, start not in the data, ambiguous currency).

    Messages name parameters, counts and currency codes, never accounts or people.
    """


class RunError(FollowMoneyError, ValueError):
    """A run folder cannot be used: ``--out`` is a file or unwritable, ``--previous`` is
    not a completed run, or another run holds the folder's lock."""


class ShareError(InputError):
    """A key file, match-key export, membership filter or disclosure package is unusable.

    The message is one line: the file, then what is wrong (wrong key, wrong period,
    altered content, a key kind the recipe forbids). It never holds personal data or
    key material.
    """


class UnknownSubjectError(FollowMoneyError, LookupError):
    """A subject, case or account asked for (e.g. by ``followmoney report``) is not in the run."""


class ConflictingDuplicateError(FollowMoneyError, ValueError):
    """A ``txn_id`` occurs more than once with different values.

    Attributes
    ----------
    code : str
        ``"conflicting_duplicate_txid"``.
    count : int
        Number of transaction ids concerned.
    """

    code = "conflicting_duplicate_txid"

    def __init__(self, count: int):
        self.count = count
        super().__init__(
            f"{self.code}: {count} txn_id(s) occur more than once with different from/to, amount, "
            "currency or timestamp; fix the source or give them distinct ids"
        )
