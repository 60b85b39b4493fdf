"""The rule catalogue: each typology rule's text and parameter declarations, as data.

``catalogue.toml`` (next to this module, shipped in the package) holds, per rule id, the
rule's name, typology, description (what it looks for) and source (where the indicator
and its thresholds come from), and its parameters: kind, default, unit, inclusive range
and meaning. It is read once, at import (:data:`CATALOGUE`). The rule modules
(``_cash.py``, ``_fan.py``, ...) keep only the code (the vectorised function, the
explanation, the columns it reads, how it may be partitioned) and bind it to its entry
with :func:`catalogued`. A rule id without an entry, or an entry no code binds
(:func:`check_bound`, run when :mod:`followmoney.detect.rules` is imported), is a
:class:`~followmoney.exceptions.CatalogueError` naming the id.

The rule reference ``docs/rules.md`` is generated from the catalogue
(:func:`rules_markdown`) with ``python -m followmoney.detect.rules`` (``make docs``), and
the evidence pack and ``followmoney rules`` take names, descriptions and sources from it
(through :data:`~followmoney.detect.rules.REGISTRY`).

Examples
--------
>>> entry = CATALOGUE["ML-05"]
>>> entry.name, entry.typology
('Fan-in', 'fan_in')
>>> [(p.name, p.default, p.unit) for p in entry.params][:2]
[('min_counterparties', 5, 'count'), ('window_days', 10.0, 'days')]
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import fields
from decimal import Decimal, InvalidOperation
from pathlib import Path

from followmoney.detect.rules._registry import Param, Rule, RuleText
from followmoney.exceptions import CatalogueError, ParameterError

__all__ = ["CATALOGUE_PATH", "CATALOGUE", "Entry", "load_catalogue", "catalogued", "check_bound", "rules_markdown", "describe"]

#: The catalogue file shipped with the package.
CATALOGUE_PATH = Path(__file__).with_name("catalogue.toml")

_KINDS = {"int": int, "float": float, "Decimal": Decimal, "bool": bool}
_RULE_KEYS = {"name", "typology", "description", "source", "params"}
_PARAM_KEYS = {"name", "kind", "default", "unit", "low", "high", "doc"}
_REQUIRED_PARAM_KEYS = ("name", "kind", "default", "unit", "doc")
_FAMILIES = {
    "ML": "money laundering typologies",
    "HT": "human trafficking for sexual exploitation",
    "FL": "forced labour",
    "HS": "human smuggling",
}


#: One rule's catalogue entry: its :class:`~followmoney.detect.rules.RuleText` (id, name,
#: typology, description, source, parameters in the catalogue's order).
Entry = RuleText


def _number(value, kind: type, where: str):
    """A catalogue number as written (int stays int, float stays float); Decimal from a string; a bool is true or false."""
    if kind is bool:
        if not isinstance(value, bool):
            raise CatalogueError(f"{where}: a bool parameter is true or false, got {value!r}")
        return value
    if kind is Decimal:
        if not isinstance(value, str):
            raise CatalogueError(f"{where}: a Decimal parameter's numbers are written as strings, got {type(value).__name__}")
        try:
            return Decimal(value)
        except InvalidOperation as exc:
            raise CatalogueError(f"{where}: {value!r} is not a decimal number") from exc
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CatalogueError(f"{where}: expected a number, got {type(value).__name__}")
    if kind is int and not isinstance(value, int):
        raise CatalogueError(f"{where}: an int parameter's numbers must be integers, got {value!r}")
    return value


def _param(raw, where: str, rule_id: str) -> Param:
    if not isinstance(raw, dict):
        raise CatalogueError(f"{where}: expected a [[params]] table")
    where = f"{where} {raw.get('name', '?')}" if isinstance(raw.get("name"), str) else where
    unknown = sorted(set(raw) - _PARAM_KEYS)
    if unknown:
        raise CatalogueError(f"{where}: unknown key(s) {unknown}; known: {sorted(_PARAM_KEYS)}")
    missing = [k for k in _REQUIRED_PARAM_KEYS if k not in raw]
    if missing:
        raise CatalogueError(f"{where}: missing key(s) {missing}")
    for key in ("name", "kind", "unit", "doc"):
        if not isinstance(raw[key], str) or (key != "doc" and not raw[key].strip()):
            raise CatalogueError(f"{where}: {key} must be a non-empty string")
    if raw["kind"] not in _KINDS:
        raise CatalogueError(f"{where}: kind {raw['kind']!r} is not one of {sorted(_KINDS)}")
    kind = _KINDS[raw["kind"]]
    if kind is bool and ("low" in raw or "high" in raw):
        raise CatalogueError(f"{where}: a bool parameter has no range (low, high)")
    bounds = {k: _number(raw[k], kind, f"{where}: {k}") if k in raw else None for k in ("low", "high")}
    if bounds["low"] is not None and bounds["high"] is not None and bounds["low"] > bounds["high"]:
        raise CatalogueError(f"{where}: low {bounds['low']} is above high {bounds['high']}")
    param = Param(raw["name"], kind, _number(raw["default"], kind, f"{where}: default"), raw["unit"], bounds["low"], bounds["high"], raw["doc"])  # fmt: skip
    try:
        param.validate(param.default, rule_id)
    except ParameterError as exc:
        raise CatalogueError(f"{where}: the default is invalid: {exc}") from exc
    return param


def load_catalogue(path: str | Path = CATALOGUE_PATH) -> dict[str, Entry]:
    """Read and check a rule catalogue file.

    Parameters
    ----------
    path : str or pathlib.Path, default :data:`CATALOGUE_PATH`
        A TOML file of ``[rules."ID"]`` tables with ``[[rules."ID".params]]`` (the
        format is described at the top of ``catalogue.toml``).

    Returns
    -------
    dict of str to Entry
        By rule id, in the file's order.

    Raises
    ------
    followmoney.exceptions.CatalogueError
        One line naming the file and the rule id (and parameter): invalid TOML, a key
        missing or unknown, a kind not ``int``, ``float``, ``Decimal`` or ``bool``, a number
        of the wrong kind, a range on a bool, a parameter named twice, or a default outside its range.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "c.toml"
    >>> _ = f.write_text('[rules."X-1"]\\nname = "n"\\ntypology = "t"\\ndescription = "d"\\nsource = "s"\\n'
    ...                  '[[rules."X-1".params]]\\nname = "k"\\nkind = "int"\\ndefault = 0\\nunit = "count"\\nlow = 1\\ndoc = ""\\n')
    >>> load_catalogue(f)
    Traceback (most recent call last):
    ...
    followmoney.exceptions.CatalogueError: c.toml: rule X-1, parameter k: the default is invalid: X-1.k must be an int >= 1, got 0 (count)
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{path.name}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise CatalogueError(f"{path.name}: cannot be read ({type(exc).__name__})") from exc
    extra = sorted(set(data) - {"rules"})
    if extra or not isinstance(data.get("rules"), dict):
        raise CatalogueError(f"{path.name}: expected only [rules.\"ID\"] tables, found {extra or 'no [rules] table'}")
    catalogue = {}
    for rule_id, raw in data["rules"].items():
        where = f"{path.name}: rule {rule_id}"
        if not isinstance(raw, dict):
            raise CatalogueError(f"{where}: expected a table")
        unknown = sorted(set(raw) - _RULE_KEYS)
        if unknown:
            raise CatalogueError(f"{where}: unknown key(s) {unknown}; known: {sorted(_RULE_KEYS)}")
        for key in ("name", "typology", "description", "source"):
            if not isinstance(raw.get(key), str) or not raw[key].strip():
                raise CatalogueError(f"{where}: {key} must be a non-empty string")
        raw_params = raw.get("params", [])
        if not isinstance(raw_params, list):
            raise CatalogueError(f"{where}: params must be [[rules.\"{rule_id}\".params]] tables")
        params = tuple(_param(p, f"{where}, parameter", rule_id) for p in raw_params)
        names = [p.name for p in params]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise CatalogueError(f"{where}: parameter(s) {twice} declared twice")
        catalogue[rule_id] = Entry(rule_id, raw["name"], raw["typology"], raw["description"], raw["source"], params)
    return catalogue


#: The package's catalogue, read once at import: rule id -> :class:`Entry`.
CATALOGUE: dict[str, Entry] = load_catalogue()


def catalogued(
    rule_id: str,
    *,
    func: Callable,
    explain: Callable,
    requires: tuple = (),
    partition: str = "global",
    whole_data: tuple = (),
    pairs: Callable | None = None,
    from_pairs: Callable | None = None,
    touching: Callable | None = None,
    catalogue: dict[str, Entry] | None = None,
) -> Rule:
    """The :class:`~followmoney.detect.rules.Rule` of catalogue entry ``rule_id`` with its code.

    Name, typology, description, source and parameters come from the catalogue; the
    arguments are what only code can say (see :class:`~followmoney.detect.rules.Rule`).
    Register the result with :func:`~followmoney.detect.rules.register`.

    Parameters
    ----------
    rule_id : str
    func, explain : callable
    requires : tuple of str
    partition : {"global", "account", "payer", "neighbourhood", "graph", "touching"}
    whole_data : tuple of WholeStat
    pairs, from_pairs : callable, optional
        A ``"payer"`` rule's two steps.
    touching : callable, optional
        A ``"touching"`` rule's rows.
    catalogue : dict, optional
        Default :data:`CATALOGUE`.

    Raises
    ------
    followmoney.exceptions.CatalogueError
        If the catalogue has no entry ``rule_id``.

    Examples
    --------
    >>> rule = catalogued("ML-05", func=lambda frame, ctx: None, explain=lambda facts, params, j: "")
    >>> rule.name, [p.name for p in rule.params][:1]
    ('Fan-in', ['min_counterparties'])
    >>> catalogued("ML-99", func=None, explain=None)
    Traceback (most recent call last):
    ...
    followmoney.exceptions.CatalogueError: rule ML-99 has code but no entry in catalogue.toml
    """
    catalogue = CATALOGUE if catalogue is None else catalogue
    entry = catalogue.get(rule_id)
    if entry is None:
        raise CatalogueError(f"rule {rule_id} has code but no entry in {CATALOGUE_PATH.name}")
    text = {f.name: getattr(entry, f.name) for f in fields(RuleText)}
    return Rule(**text, requires=tuple(requires), func=func, explain=explain, partition=partition, whole_data=tuple(whole_data),
                pairs=pairs, from_pairs=from_pairs, touching=touching)  # fmt: skip


def check_bound(registry: dict, catalogue: dict[str, Entry] | None = None) -> None:
    """Raise unless every catalogue entry has a registered rule.

    Parameters
    ----------
    registry : dict
        Rule id -> Rule (:data:`~followmoney.detect.rules.REGISTRY`).
    catalogue : dict, optional
        Default :data:`CATALOGUE`.

    Raises
    ------
    followmoney.exceptions.CatalogueError
        Naming the ids of the entries no code binds.

    Examples
    --------
    >>> check_bound({}, {"ML-99": Entry("ML-99", "n", "t", "d", "s")})
    Traceback (most recent call last):
    ...
    followmoney.exceptions.CatalogueError: catalogue.toml: rule(s) ML-99 have an entry but no code (catalogued(...) in a rule module)
    """
    catalogue = CATALOGUE if catalogue is None else catalogue
    unbound = [rule_id for rule_id in catalogue if rule_id not in registry]
    if unbound:
        raise CatalogueError(
            f"{CATALOGUE_PATH.name}: rule(s) {', '.join(unbound)} have an entry but no code (catalogued(...) in a rule module)"
        )


# --- the rule reference (docs/rules.md) -------------------------------------------------


def _num(v) -> str:
    """A number for the reference: exact, thousands separated, no trailing ``.0``; a bool as in TOML."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return f"{int(v):,}"
        short = f"{v:.6g}"
        return short if float(short) == v else repr(v)
    return f"{v:,}"


def _range(p: Param) -> str:
    if p.kind is bool:
        return "true or false"
    if p.low is None and p.high is None:
        return "any"
    if p.high is None:
        return f"≥ {_num(p.low)}"
    if p.low is None:
        return f"≤ {_num(p.high)}"
    return f"{_num(p.low)} to {_num(p.high)}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading (lower case, punctuation dropped, spaces to hyphens)."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def describe(rule) -> str:
    """One rule in plain text: id, name, typology, what it looks for, sources, parameters.

    Parameters
    ----------
    rule : Entry or followmoney.detect.rules.Rule
        A catalogue entry, or a registered rule (your own rules included).

    Returns
    -------
    str

    Examples
    --------
    >>> print(describe(CATALOGUE["ML-05"]))  # doctest: +ELLIPSIS
    ML-05 Fan-in (typology fan_in)
    What it looks for: Many distinct senders pay into one account within a short window (collection / funnel).
    Sources: indicators.md ML-05; ...
    Parameters:
      min_counterparties = 5 count (range 2 to 10,000): Distinct senders needed within the window.
    ...
    """
    lines = [f"{rule.id} {rule.name} (typology {rule.typology})", f"What it looks for: {rule.description}", f"Sources: {rule.source}"]
    if rule.params:
        lines.append("Parameters:")
        lines += [f"  {p.name} = {_num(p.default)} {p.unit} (range {_range(p)})" + (f": {p.doc}" if p.doc else "") for p in rule.params]
    return "\n".join(lines)


def rules_markdown(catalogue: dict[str, Entry] | None = None) -> str:
    """The rule reference (``docs/rules.md``) generated from the catalogue.

    Parameters
    ----------
    catalogue : dict, optional
        Default :data:`CATALOGUE`.

    Returns
    -------
    str
        Markdown: an index, then per rule its id, name, typology, what it looks for,
        sources and a table of its parameters (unit, default, range, meaning).

    Examples
    --------
    >>> text = rules_markdown()
    >>> text.startswith("# Rule reference")
    True
    >>> "| `min_counterparties` | 5 | count | 2 to 10,000 |" in text
    True
    """
    catalogue = CATALOGUE if catalogue is None else catalogue
    out = [
        "# Rule reference",
        "",
        "<!-- Generated from src/followmoney/detect/rules/catalogue.toml by `make docs` "
        "(python -m followmoney.detect.rules); edit the catalogue, not this file. -->",
        "",
        f"followmoney scores transactions with {len(catalogue)} typology rules "
        "(`followmoney.detect.rules.REGISTRY`). Ids follow the indicator catalogue: "
        + "; ".join(f"`{k}-` {v}" for k, v in _FAMILIES.items()) + ". "
        "Every parameter can be set per run in the configuration, e.g. "
        "`[rules.\"ML-05\"]` `min_counterparties = 6`; a value outside its range is refused "
        "with an error naming the rule and the parameter.",
        "",
        "Sources cite the project's indicator catalogue (`indicators.md`, in "
        "`shared/reference/`) and the public material behind it, each with its evidence "
        "grade: A read in the official document; B read in a secondary summary that "
        "attributes it to the document; C recalled, not verified; E an engineering "
        "default (no source; calibrated on data where the source says so).",
        "",
        "| id | name | typology |",
        "| --- | --- | --- |",
    ]
    headings = {rule_id: f"{rule_id} {e.name}" for rule_id, e in catalogue.items()}
    for rule_id, e in catalogue.items():
        out.append(f"| [{rule_id}](#{_anchor(headings[rule_id])}) | {_cell(e.name)} | `{e.typology}` |")
    for rule_id, e in catalogue.items():
        out += [
            "",
            f"## {headings[rule_id]}",
            "",
            f"**Typology:** `{e.typology}`",
            "",
            f"**What it looks for:** {e.description}",
            "",
            f"**Sources:** {e.source}",
            "",
        ]
        if not e.params:
            out.append("No parameters.")
            continue
        out += ["| parameter | default | unit | range | meaning |", "| --- | --- | --- | --- | --- |"]
        for p in e.params:
            out.append(f"| `{p.name}` | {_num(p.default)} | {_cell(p.unit)} | {_range(p)} | {_cell(p.doc)} |")
    return "\n".join(out) + "\n"
