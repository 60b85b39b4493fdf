"""Rule registry: each typology rule is data (id, text, parameters) plus a vectorised function.

A rule reaches :data:`REGISTRY` in one of two ways.

* **followmoney's own rules**: the data is the rule catalogue, ``catalogue.toml`` next
  to this module (name, typology, description, source, and each parameter's kind,
  default, unit, range and meaning). The rule module keeps only the code and binds it
  to the entry by id with :func:`followmoney.detect.rules.catalogue.catalogued`::

      register(catalogued("ML-05", func=..., explain=..., requires=("to_account", "sender"), partition="account"))

  Code without a catalogue entry, or an entry without code, fails the import of
  :mod:`followmoney.detect.rules` with a :class:`~followmoney.exceptions.CatalogueError`
  naming the id. ``docs/rules.md`` is generated from the catalogue (``make docs``).
* **your own rules**: pass the text and parameters in Python, as a :class:`Rule` with
  :class:`Param` declarations, to :func:`register`; no catalogue entry is needed (check
  it with :func:`followmoney.testing.check_rule`).

Examples
--------
>>> import pandas as pd
>>> mine = Rule(
...     id="XX-01", name="Large transfer", typology="large_transfer",
...     description="A single transfer of at least the amount.", source="in-house rule",
...     params=(Param("min_amount_cents", int, 1_000_000, "cents", 1, None, "Smallest amount."),),
...     requires=("amount_cents",),
...     func=lambda frame, ctx: pd.DataFrame(),
...     explain=lambda facts, params, j: f"Transfer of at least {params['min_amount_cents']} cents.",
... )
>>> mine.resolve_params({"min_amount_cents": 0})
Traceback (most recent call last):
...
followmoney.exceptions.ParameterError: XX-01.min_amount_cents must be an int >= 1, got 0 (cents)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from followmoney.core.settings import check_value, unknown_keys
from followmoney.exceptions import ConfigError, ParameterError

__all__ = ["Param", "RuleText", "Rule", "RuleContext", "WholeStat", "whole", "shared_lock", "shared_value", "REGISTRY", "register", "ParameterError"]


@dataclass(frozen=True)
class Param:
    """A typed, range-checked rule parameter.

    Attributes
    ----------
    name : str
    kind : type
        ``int``, ``float``, ``Decimal`` or ``bool``.
    default : number
    unit : str
        E.g. ``"days"``, ``"count"``, ``"fraction of threshold"``.
    low, high : number or None
        Inclusive bounds.
    doc : str
    """

    name: str
    kind: type
    default: object
    unit: str
    low: object = None
    high: object = None
    doc: str = ""

    def validate(self, value, rule_id: str):
        """``value`` converted to ``kind`` and checked against the range, by the settings base.

        The rule parameters are typed and range-checked by the same code as every other
        setting (:func:`followmoney.core.settings.check_value`): an int parameter refuses
        a float, a float parameter takes an int, a Decimal comes from text or an int.

        Raises
        ------
        ParameterError
            Naming the rule and parameter (``ML-05.window_days``), the value, the accepted
            type or range and the unit.
        """
        try:
            return check_value(value, self.kind, f"{rule_id}.{self.name}", ge=self.low, le=self.high)
        except ConfigError as exc:
            raise ParameterError(f"{exc} ({self.unit})") from None


@dataclass(frozen=True)
class RuleContext:
    """What a rule needs besides the transaction frame.

    Attributes
    ----------
    params : dict
        The rule's validated parameters.
    jurisdiction : followmoney.core.config.Jurisdiction
        Threshold, currency, time zone of the run.
    bundle : followmoney.Bundle, optional
        The whole load, for rules that read other tables (accounts, identifiers).
    config : followmoney.Config, optional
        The run configuration (e.g. country lists).
    shared : dict
        Results computed once per scoring run and shared by rules (e.g. the entity
        resolution of the bundle's parties). Rules of one run may run on several threads
        at once: an entry is built once, by :func:`shared_value`.
    whole : dict, optional
        The rule's :class:`WholeStat` values over the whole data, by name, where the
        engine runs the rule on a part of it (the Dask engine); None: the frame is the
        whole data (see :func:`whole`).
    """

    params: dict
    jurisdiction: object
    bundle: object = None
    config: object = None
    shared: dict = field(default_factory=dict)
    whole: dict | None = None


@dataclass(frozen=True)
class WholeStat:
    """A statistic of the whole prepared frame that a rule reads (e.g. when the data start).

    A rule that runs on account partitions (the Dask engine) cannot see the whole frame;
    it declares the statistic instead, the engine computes ``func`` on every chunk of the
    data and combines the values with ``reduce``, and the rule reads it with
    :func:`whole`. ``func`` must give the same answer on the whole frame as the
    reduction of its answers on any split of the rows.

    Attributes
    ----------
    name : str
    reduce : {"min", "max", "any", "union", "sum"}
        How chunk values combine; ``func`` returns None for "no value here" (ignored).
        ``"union"``: ``func`` returns a list of text, the whole-data value is the sorted
        union (for a set the rule reads, e.g. the receivers of remittances).
        ``"sum"``: ``func`` returns a list of ``[key, ..., integer]`` rows (e.g. account,
        currency, amount in minor units), the whole-data value is one row per key with
        the sum of its integers, sorted by key (kept as JSON lists in a store's state).
    func : callable
        ``func(frame, params) -> value or None``; with ``bundle=True``,
        ``func(frame, params, bundle)`` (the bundle's other tables, e.g. account opening dates).
    bundle : bool
        Whether ``func`` reads the bundle.

    Examples
    --------
    >>> import pandas as pd
    >>> start = WholeStat("start", "min", lambda f, p: int(f["t"].min()) if len(f) else None)
    >>> start.combine([5, None, 3])
    3
    >>> WholeStat("payees", "union", lambda f, p: []).combine([["B", "A"], None, ["A", "C"]])
    ['A', 'B', 'C']
    >>> WholeStat("inflow", "sum", lambda f, p: []).combine([[["A", "EUR", 5]], [["A", "EUR", 2], ["B", "EUR", 1]]])
    [['A', 'EUR', 7], ['B', 'EUR', 1]]
    """

    name: str
    reduce: str
    func: Callable = field(repr=False)
    bundle: bool = False

    def value(self, frame: pd.DataFrame, params: dict, bundle=None):
        """``func`` on ``frame`` (one chunk, or the whole data), given the bundle where it reads it."""
        return self.func(frame, params, bundle) if self.bundle else self.func(frame, params)

    def combine(self, values):
        """The whole-data value from the values of the parts (None where no part had one)."""
        vals = [v for v in values if v is not None]
        if self.reduce == "any":
            return any(bool(v) for v in vals)
        if self.reduce == "union":
            return sorted(set().union(*vals))
        if self.reduce == "sum":
            sums: dict = {}
            for rows in vals:
                for *key, amount in rows:
                    sums[tuple(key)] = sums.get(tuple(key), 0) + int(amount)
            return [[*key, sums[key]] for key in sorted(sums)]
        if not vals:
            return None
        return min(vals) if self.reduce == "min" else max(vals)


@dataclass(frozen=True)
class Touching:
    """The transactions a ``"touching"`` rule reads (:attr:`Rule.touching`): the rows whose sender or
    receiver is one of ``parties`` (``from_party`` / ``to_party``) or ``accounts``
    (``from_account`` / ``to_account``) and, with ``merchants``, for each account those
    rows pay that is a merchant, one row that shows it: a card payment (``channel``
    "card") or a row with a ``merchant_category`` into it. The rule must give the same
    findings on a frame of only these rows, in the whole frame's order, as on the whole
    frame.

    Examples
    --------
    >>> Touching(frozenset({"P1"}), frozenset()).merchants
    False
    """

    parties: frozenset
    accounts: frozenset
    merchants: bool = False


def whole(ctx: RuleContext, frame: pd.DataFrame, stat: WholeStat):
    """``stat`` of the whole data: the engine's value where it split the data, else computed on ``frame``.

    Examples
    --------
    >>> import pandas as pd
    >>> stat = WholeStat("rows", "max", lambda f, p: len(f))
    >>> whole(RuleContext(params={}, jurisdiction=None), pd.DataFrame({"t": [1, 2]}), stat)
    2
    >>> whole(RuleContext(params={}, jurisdiction=None, whole={"rows": 9}), pd.DataFrame({"t": [1, 2]}), stat)
    9
    """
    if ctx.whole is not None and stat.name in ctx.whole:
        return ctx.whole[stat.name]
    return stat.value(frame, ctx.params, ctx.bundle)


def shared_lock(ctx: RuleContext, key) -> threading.Lock:
    """The lock under which ``ctx.shared[key]`` is looked up and built.

    :func:`followmoney.score` may run several rules of one run at once on threads
    (``threads``); a shared entry is built by the first rule that needs it while the
    others wait for it, never twice.

    Examples
    --------
    >>> ctx = RuleContext(params={}, jurisdiction=None)
    >>> with shared_lock(ctx, "table"):
    ...     table = ctx.shared.setdefault("table", [1, 2])
    >>> shared_lock(ctx, "table") is shared_lock(ctx, "table")
    True
    """
    return ctx.shared.setdefault(("lock", key), threading.Lock())  # dict.setdefault is atomic: one lock per key


def shared_value(ctx: RuleContext, key, build: Callable, of=None):
    """``ctx.shared[key]``, built by ``build()`` the first time a rule asks (under :func:`shared_lock`).

    Parameters
    ----------
    ctx : RuleContext
    key : hashable
        The entry's name (those of :data:`followmoney.detect.rules.SHARED_USERS` are dropped
        after their last reader).
    build : callable
        ``build() -> value``.
    of : object, optional
        What the value was built from (e.g. the frame): a rule given another object (``is``,
        not ``==``) gets a value built again from it, which replaces the entry.

    Examples
    --------
    >>> ctx = RuleContext(params={}, jurisdiction=None)
    >>> shared_value(ctx, "n", lambda: [1, 2]) is shared_value(ctx, "n", lambda: [3])
    True
    """
    with shared_lock(ctx, key):
        hit = ctx.shared.get(key)
        if of is None and key in ctx.shared:
            return hit
        if of is not None and hit is not None and hit[0] is of:
            return hit[1]
        value = build()
        ctx.shared[key] = value if of is None else (of, value)
        return value


@dataclass(frozen=True)
class RuleText:
    """What a rule says: its id, text and parameter declarations (a catalogue entry).

    Attributes
    ----------
    id : str
        Catalogue id, e.g. ``"ML-05"`` (``shared/reference/indicators.md``).
    name, typology, description, source : str
        ``source`` cites the indicator's origin (e.g. "AMLSim fan-in typology; ...").
    params : tuple of Param
        In the catalogue's order.
    """

    id: str
    name: str
    typology: str
    description: str
    source: str
    params: tuple = ()


@dataclass(frozen=True)
class Rule(RuleText):
    """A typology detector: its :class:`RuleText` and its code.

    Attributes
    ----------
    id, name, typology, description, source, params
        As :class:`RuleText`.
    requires : tuple of str
        Columns of the prepared transaction frame the rule reads; a rule whose
        columns are absent or all null is skipped with the reason logged.
    func : callable
        ``func(frame: pandas.DataFrame, ctx: RuleContext) -> pandas.DataFrame`` of
        findings with columns ``subject_kind, subject_id, window_start, window_end,
        evidence_txn_ids (list), score (0..1), facts (dict for the explanation)``.
    explain : callable
        ``explain(facts: dict, params: dict, jurisdiction) -> str``: plain words.
    partition : {"global", "account", "payer", "neighbourhood", "graph"}, default "global"
        How the Dask engine may split the rule's work (:mod:`followmoney.detect._dask`):
        ``"account"`` when a subject's alerts depend only on the transactions it sends
        or receives (all of them); ``"payer"`` when the rule first finds payments each
        decided by its payer's own transactions alone (``pairs``) and then builds its
        findings from all of them (``from_pairs``); ``"neighbourhood"`` when a
        subject's alerts also depend on its direct counterparties' transactions;
        ``"graph"`` when the rule reads only the edge table of the graph rules
        (``_shared_edges``) and, of the frame, ML-12's institution and country columns;
        ``"touching"`` when it reads only the rows of parties and accounts named by the
        bundle's other tables (``touching``); ``"global"`` (the safe default) otherwise.
        The pandas engine ignores it.
    pairs : callable, optional
        With ``partition="payer"``: ``pairs(frame, ctx) -> pandas.DataFrame``, one row per
        payment found, with ``from_account`` (its payer) and ``row`` / ``in_row`` (labels
        of ``frame`` rows it rests on); a payer's rows depend only on the transactions
        that payer sends or receives.
    from_pairs : callable, optional
        With ``partition="payer"``: ``from_pairs(frame, pairs, ctx) -> findings``, where
        ``frame`` holds at least the rows ``pairs`` names, in the whole frame's order, and
        ``pairs`` is in the order of its ``row``. ``func(frame, ctx)`` must equal
        ``from_pairs(frame, pairs(frame, ctx), ctx)``.
    whole_data : tuple of WholeStat
        Statistics of the whole frame the rule reads through :func:`whole` (so that it
        can run on partitions).
    touching : callable, optional
        With ``partition="touching"``: ``touching(bundle, params) -> Touching``, the rows
        the rule's findings depend on, from the bundle's tables other than the
        transactions (e.g. the people sharing an identifier and their accounts).
    """

    requires: tuple = ()
    func: Callable = field(default=None, repr=False)
    explain: Callable = field(default=None, repr=False)
    partition: str = "global"
    whole_data: tuple = ()
    pairs: Callable = field(default=None, repr=False)
    from_pairs: Callable = field(default=None, repr=False)
    touching: Callable = field(default=None, repr=False)

    def resolve_params(self, overrides: dict | None = None) -> dict:
        """Defaults updated with ``overrides``, each validated.

        Raises
        ------
        ParameterError
            On an unknown parameter name or a value out of range.
        """
        overrides = dict(overrides or {})
        known = {p.name: p for p in self.params}
        unknown = [k for k in overrides if k not in known]
        if unknown:
            raise ParameterError(str(unknown_keys(self.id, unknown, list(known), "parameter")))
        return {name: p.validate(overrides.get(name, p.default), self.id) for name, p in known.items()}

    def missing_columns(self, frame: pd.DataFrame) -> list[str]:
        """Required columns absent from ``frame`` or entirely null."""
        return [c for c in self.requires if c not in frame.columns or frame[c].isna().all()]


#: All registered rules, by id.
REGISTRY: dict[str, Rule] = {}


def register(rule: Rule) -> Rule:
    """Add ``rule`` to :data:`REGISTRY` (ids are unique; re-importing a rule module replaces its rules).

    Parameters
    ----------
    rule : Rule
        A rule of your own, its text and :class:`Param` declarations given in Python;
        or one of followmoney's, built from its catalogue entry by
        :func:`followmoney.detect.rules.catalogue.catalogued`.

    Returns
    -------
    Rule
        ``rule``.

    Raises
    ------
    ValueError
        If another rule with a different name or source has the id.
    """
    known = REGISTRY.get(rule.id)
    if known is not None and (known.name, known.source) != (rule.name, rule.source):
        raise ValueError(f"rule id {rule.id} registered twice with different definitions")
    REGISTRY[rule.id] = rule
    return rule
