"""Conformance checks for rules and adapters, public so that users who register their own can run them.

The pattern is scikit-learn's ``check_estimator``: one function runs every check the
project holds its own rules and adapters to, and raises ``AssertionError`` naming the
check that failed. followmoney's own test suite runs both over every registered rule
(:data:`followmoney.detect.rules.REGISTRY`) and adapter (:data:`followmoney.ingest.ADAPTERS`).

Examples
--------
>>> import followmoney as fm
>>> from followmoney.testing import check_adapter
>>> check_adapter(fm.ingest.ADAPTERS["goaml"], [fm.sample_data_path() / "goaml" / "str_2026_001.xml"])
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path

import pyarrow.compute as pc

from followmoney.core import schema
from followmoney.core.bundle import Bundle
from followmoney.detect.rules import REGISTRY, Rule
from followmoney.detect.score import score
from followmoney.exceptions import InputError, ParameterError
from followmoney.ingest import ADAPTERS, sniff

__all__ = ["check_rule", "check_adapter", "out_of_range_values"]


def out_of_range_values(param) -> list:
    """Values a rule parameter must refuse: just outside each bound, and non-numbers (for a bool: a number).

    Parameters
    ----------
    param : followmoney.detect.rules.Param

    Returns
    -------
    list

    Examples
    --------
    >>> from followmoney.detect.rules import Param
    >>> out_of_range_values(Param("min_count", int, 3, "count", low=1, high=100))
    [0, 101, 'many', True, None]
    >>> out_of_range_values(Param("gather_first", bool, True, "on/off"))
    ['many', 1, None]
    """
    step = {int: 1, float: 1e-6, Decimal: Decimal("0.000001")}.get(param.kind, 1)
    values = []
    if param.low is not None:
        values.append(param.kind(param.low) - step if param.kind is not Decimal else Decimal(str(param.low)) - step)
    if param.high is not None:
        values.append(param.kind(param.high) + step if param.kind is not Decimal else Decimal(str(param.high)) + step)
    return [*values, "many", 1 if param.kind is bool else True, None]


def check_rule(rule: Rule, positive_case: Callable[[], tuple[Bundle, object, set]]) -> None:
    """Run every conformance check on one registered rule.

    Checks: the rule is registered and documented (source, description, parameters,
    explanation); every parameter refuses values out of its range and non-numbers with a
    :class:`~followmoney.exceptions.ParameterError` naming the rule and the parameter; an
    empty bundle gives an empty alerts table of the canonical schema; on the positive
    case it alerts exactly the expected subjects, deterministically, without changing
    its input; each alert's evidence is a non-empty subset of the input's transactions,
    its score is in [0, 1], and its explanation names the subject and a threshold it used.

    Parameters
    ----------
    rule : followmoney.detect.rules.Rule
        Registered with :func:`followmoney.detect.rules.register`.
    positive_case : callable
        ``() -> (bundle, config, expected_subject_ids)``: a small input on which the
        rule must fire, the :class:`~followmoney.Config` to score it with, and the set of
        subject ids its alerts must name.

    Raises
    ------
    AssertionError
        Naming the check that failed.
    """
    rid = rule.id
    assert REGISTRY.get(rid) is rule, f"{rid}: not registered (followmoney.detect.rules.register)"
    assert rule.source and rule.description and rule.params and rule.explain, f"{rid}: source, description, params and explain are required"
    for p in rule.params:
        assert p.unit, f"{rid}.{p.name}: no unit"
        rule.resolve_params({})  # defaults are valid
        for bad in out_of_range_values(p):
            try:
                rule.resolve_params({p.name: bad})
            except ParameterError as exc:
                assert rid in str(exc) and p.name in str(exc), f"{rid}.{p.name}: the error must name rule and parameter: {exc}"
            else:
                raise AssertionError(f"{rid}.{p.name}: accepted the out-of-range value {bad!r}")
    b, cfg, expected = positive_case()
    empty = score(Bundle(), cfg, rules=[rid], on_error="raise")
    assert empty.num_rows == 0 and empty.schema.equals(schema.SCHEMAS["alerts"]), f"{rid}: empty input must give an empty alerts table"
    before = b.transactions
    first = score(b, cfg, rules=[rid], on_error="raise")
    again = score(b, cfg, rules=[rid], on_error="raise")
    assert b.transactions.equals(before), f"{rid}: the input was changed"
    assert first.equals(again), f"{rid}: not deterministic"
    got = set(first["subject_id"].to_pylist())
    assert got == set(expected), f"{rid}: alerted {sorted(got)}, expected {sorted(expected)}"
    ids = set(b.transactions["txn_id"].to_pylist())
    for a in first.to_pylist():
        assert set(a["evidence_txn_ids"]) <= ids and a["evidence_count"] == len(a["evidence_txn_ids"]) > 0, f"{rid}: evidence"
        assert a["explanation"] and 0 <= a["score"] <= 1 and a["severity"] in {"low", "medium", "high"}, f"{rid}: score/explanation"
        params = json.loads(a["params"])
        assert params["jurisdiction"] == cfg.jurisdiction, f"{rid}: params must record the jurisdiction"
        assert any(_fmt(v) in a["explanation"] for k, v in params.items() if k != "jurisdiction"), f"{rid}: explanation names no threshold"
        assert a["subject_id"] in a["explanation"], f"{rid}: explanation does not name the subject"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:g}" if v >= 1 else f"{v:.0%}"
    return str(v)


def check_adapter(adapter, sample_paths: Iterable[str | Path]) -> None:
    """Run every conformance check on one adapter over files it must read.

    Checks, per file: the adapter's ``sniff`` claims it and ``followmoney.ingest.sniff``
    names this adapter (no other adapter claims it first); ``read`` returns a
    :class:`~followmoney.Bundle` whose tables match their canonical schemas and that
    reconciles (records read = rows written + merged + rejected); every transaction has
    a ``source_ref`` naming the file, and ids are unique; reading again gives the same
    tables, and reading a copy under another name gives the same transaction ids (ids
    come from content, never the file name). An empty file is refused with
    :class:`~followmoney.exceptions.InputError` naming it, or read as nothing.

    Parameters
    ----------
    adapter : module or object
        With ``FORMAT`` (str), ``sniff(path, head: bytes) -> bool``,
        ``is_companion(path) -> bool`` and ``read(path, **options) -> Bundle``.
    sample_paths : iterable of str or Path
        Files of the adapter's format (not companion files).

    Raises
    ------
    AssertionError
        Naming the adapter, the file and the check that failed.
    """
    name = adapter.FORMAT
    assert ADAPTERS.get(name) is adapter, f"{name}: not in followmoney.ingest.ADAPTERS"
    for path in map(Path, sample_paths):
        where = f"{name}: {path.name}"
        head = path.read_bytes()[:65536]
        assert adapter.sniff(path, head), f"{where}: sniff does not claim the file"
        assert sniff(path) == name, f"{where}: followmoney.ingest.sniff names {sniff(path)!r}"
        assert not adapter.is_companion(path), f"{where}: a sample must be a main file, not a companion"
        b = adapter.read(path)
        for table in schema.TABLES:
            t = getattr(b, table)
            missing = set(schema.SCHEMAS[table].names) - set(t.column_names)
            assert not missing, f"{where}: table {table} lacks {sorted(missing)}"
        b.reconcile()
        tx = b.transactions
        refs = tx["source_ref"]
        assert refs.null_count == 0, f"{where}: transactions without source_ref"
        assert pc.all(pc.starts_with(refs, path.name)).as_py() in (True, None), f"{where}: source_ref must name the file"
        assert len(set(tx["txn_id"].to_pylist())) == tx.num_rows, f"{where}: duplicate txn_id"
        again = adapter.read(path)
        assert again.transactions.equals(tx), f"{where}: reading twice gives different transactions"
        with tempfile.TemporaryDirectory() as d:
            copy = Path(d) / f"renamed{path.suffix}"
            shutil.copyfile(path, copy)
            renamed = adapter.read(copy)
            assert renamed.transactions["txn_id"].equals(tx["txn_id"]), f"{where}: ids depend on the file name"
            empty = Path(d) / f"empty{path.suffix}"
            empty.write_bytes(b"")
            try:
                nothing = adapter.read(empty)
            except InputError as exc:
                assert "empty" in str(exc) or str(empty.name) in str(exc), f"{where}: the error must name the empty file"
            else:
                assert nothing.transactions.num_rows == 0, f"{where}: an empty file gave transactions"
