"""Configuration: jurisdiction (reporting thresholds, currency, time zone) and rule parameters.

Jurisdiction is configuration, never a constant in code: the cash reporting threshold
that structuring is measured against differs by country (USD 10,000 for US CTRs,
AUD 10,000 for Australian TTRs, ...). The table ships as
``followmoney/data/jurisdictions.toml`` with the legal source of every value
(``shared/reference/indicators.md`` section 7).

A :class:`Config` is a plain, serialisable dataclass. Use it three ways:

* pass it to functions (``fm.score(bundle, config=cfg)``),
* load it from TOML (``Config.from_toml("fiu.toml")``; ``followmoney score --config``),
* set it for a block of notebook code: ``with fm.config(jurisdiction="AU"): ...``.

Examples
--------
>>> import followmoney as fm
>>> fm.get_config().jurisdiction
'US'
>>> with fm.config(jurisdiction="AU"):
...     j = fm.get_config().jurisdiction_info
>>> j.currency, str(j.cash_threshold), j.comparator
('AUD', '10000.00', '>=')
>>> fm.get_config().jurisdiction
'US'
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import re
import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib.resources import files
from pathlib import Path

from followmoney.core.settings import Settings, closest, setting
from followmoney.exceptions import ConfigError

__all__ = ["Config", "Jurisdiction", "config", "get_config", "jurisdictions", "country_lists", "ConfigError"]


@dataclass(frozen=True)
class Jurisdiction:
    """Reporting rules of one jurisdiction.

    Attributes
    ----------
    code : str
        Short code (ISO 3166-1 alpha-2, or ``FATF``).
    name, report : str
        Country name and the report the threshold triggers.
    currency : str
        ISO 4217 currency of the threshold.
    cash_threshold : Decimal
        Cash reporting threshold in ``currency`` (major units).
    comparator : {">", ">="}
        Whether the law reports amounts above, or at or above, the threshold.
    aggregation : {"single", "business_day", "24h"}
        How several cash transactions are counted together for the report.
    timezone : str
        IANA time zone for day boundaries and night-time rules.
    source : str
        Legal basis and catalogue id (e.g. ``TH-US: 31 CFR 1010.311``).
    secondary_threshold : Decimal or None
        A lower record-keeping / wire-reporting level in ``currency`` (ML-17).
    secondary_report : str or None
        What the secondary threshold triggers.
    """

    code: str
    name: str
    report: str
    currency: str
    cash_threshold: Decimal
    comparator: str
    aggregation: str
    timezone: str
    source: str
    secondary_threshold: Decimal | None = None
    secondary_report: str | None = None


@cache
def jurisdictions() -> dict[str, Jurisdiction]:
    """All bundled jurisdictions, by code.

    Examples
    --------
    >>> sorted(jurisdictions())[:4]
    ['AE', 'AU', 'CA', 'FATF']
    """
    raw = tomllib.loads(files("followmoney").joinpath("data/jurisdictions.toml").read_text("utf-8"))
    out = {}
    for code, v in raw.items():
        v = {**v, "cash_threshold": Decimal(v["cash_threshold"])}
        if "secondary_threshold" in v:
            v["secondary_threshold"] = Decimal(v["secondary_threshold"])
        out[code] = Jurisdiction(code=code, **v)
    return out


@cache
def country_lists() -> dict[str, dict]:
    """Bundled country lists (``fatf_call_for_action``, ``fatf_increased_monitoring``,
    ``ht_source``, ``migrant_flow``), each with ``countries``, ``source`` and ``as_of``.

    Examples
    --------
    >>> "KP" in country_lists()["fatf_call_for_action"]["countries"]
    True
    """
    return tomllib.loads(files("followmoney").joinpath("data/country_lists.toml").read_text("utf-8"))


@dataclass(frozen=True)
class Config(Settings):
    """Run configuration.

    A :class:`~followmoney.core.settings.Settings`: keys are checked (an unknown one is
    a :class:`ConfigError` suggesting the closest known one), and it round-trips through
    :meth:`to_dict` / :meth:`from_dict` and :meth:`to_toml` / :meth:`from_toml`.

    Parameters
    ----------
    jurisdiction : str
        Key of :func:`jurisdictions`.
    rules : dict of str to dict
        Parameter overrides per rule id, e.g. ``{"ML-05": {"min_senders": 8}}``;
        validated by each rule against its declared constraints when it runs.
    disabled_rules : tuple of str
        Rule ids not to run.
    country_lists : dict of str to list of str
        Overrides of the bundled country lists (see :func:`country_lists`), e.g.
        ``{"ht_source": ["NG", "VN"]}``.
    fx_rates : dict or str
        Exchange rates the cash rules use to compare cash in other currencies with the
        jurisdiction's threshold: per ISO 4217 code, a list of ``{from = date, rate =
        "0.2723"}`` (units of the jurisdiction's currency per one unit of that currency,
        valid from ``from`` until the next entry), or the path of a CSV file with
        columns ``currency,from,rate``. Without a rate for its date, foreign cash is
        counted and reported as not compared with the threshold. A table is kept as
        text (``{"from": "2024-01-01", "rate": "0.2723"}``), exactly as
        :meth:`to_dict` writes it.

    Raises
    ------
    ConfigError
        On an unknown jurisdiction, a value of the wrong type, or a rate table that
        cannot be read.

    Examples
    --------
    >>> cfg = Config(jurisdiction="AU", disabled_rules=["ML-05"])
    >>> cfg.disabled_rules
    ('ML-05',)
    >>> Config.from_toml(cfg.to_toml()) == cfg
    True
    >>> Config.from_dict({"jursdiction": "AU"})
    Traceback (most recent call last):
    ...
    followmoney.exceptions.ConfigError: config: unknown key 'jursdiction'; did you mean 'jurisdiction'?; known: ...
    """

    jurisdiction: str = setting("US")
    rules: dict[str, dict] = setting(default_factory=dict)
    disabled_rules: tuple[str, ...] = setting(())
    country_lists: dict[str, list[str]] = setting(default_factory=dict)
    fx_rates: dict | str = setting(default_factory=dict)

    def _validate(self) -> None:
        if self.jurisdiction not in jurisdictions():
            raise ConfigError(
                f"unknown jurisdiction {self.jurisdiction!r}{closest(self.jurisdiction, jurisdictions())}; "
                f"known: {', '.join(sorted(jurisdictions()))}"
            )
        self.rate_table()  # a bad rate table fails here, with its place, not in the middle of a run
        if isinstance(self.fx_rates, dict):  # as text, the shape to_dict writes: round trips are exact
            canon = {c: [{k: str(v) for k, v in e.items()} for e in (es if isinstance(es, list) else [es])]
                     for c, es in self.fx_rates.items()}  # fmt: skip
            object.__setattr__(self, "fx_rates", canon)

    def rate_table(self) -> dict[str, list[tuple[date, Decimal]]]:
        """``fx_rates`` as {currency: [(valid from, rate), ...] sorted by date}.

        Raises
        ------
        ConfigError
            Naming the entry (or the file and line) that is not a currency, a date or a
            positive decimal.

        Examples
        --------
        >>> Config(jurisdiction="US", fx_rates={"AED": [{"from": "2024-01-01", "rate": "0.2723"}]}).rate_table()
        {'AED': [(datetime.date(2024, 1, 1), Decimal('0.2723'))]}
        """
        raw = self.fx_rates
        entries: list[tuple[str, object, object, str]] = []
        if isinstance(raw, str | Path) and str(raw):
            path = Path(raw)
            try:
                with path.open(newline="", encoding="utf-8-sig") as fh:
                    for i, row in enumerate(csv.DictReader(fh), start=2):
                        entries.append((row.get("currency"), row.get("from"), row.get("rate"), f"{path}:{i}"))
            except OSError as exc:
                raise ConfigError(f"fx_rates: {path}: {exc.strerror or type(exc).__name__}") from None
        elif isinstance(raw, dict):
            for ccy, items in raw.items():
                for k, item in enumerate(items if isinstance(items, list) else [items]):
                    item = item if isinstance(item, dict) else {}
                    entries.append((ccy, item.get("from"), item.get("rate"), f"fx_rates.{ccy}[{k}]"))
        elif raw:
            raise ConfigError("fx_rates: expected a table of currencies or the path of a CSV file")
        out: dict[str, list] = {}
        for ccy, when, rate, place in entries:
            code = str(ccy or "").strip().upper()
            if not re.fullmatch(r"[A-Z]{3}", code):
                raise ConfigError(f"{place}: currency is not an ISO 4217 code")
            try:
                day = when if isinstance(when, date) else date.fromisoformat(str(when).strip())
                value = Decimal(str(rate).strip())
            except (ValueError, InvalidOperation):
                raise ConfigError(f"{place}: 'from' must be a date (YYYY-MM-DD) and 'rate' a decimal") from None
            if not value.is_finite() or value <= 0:
                raise ConfigError(f"{place}: rate must be a positive decimal")
            out.setdefault(code, []).append((day, value))
        return {c: sorted(v) for c, v in out.items()}

    @property
    def jurisdiction_info(self) -> Jurisdiction:
        """The :class:`Jurisdiction` selected by ``jurisdiction``."""
        return jurisdictions()[self.jurisdiction]

    def countries(self, name: str) -> set[str]:
        """The country list ``name``: the configured override, else the bundled list.

        Raises
        ------
        ConfigError
            If ``name`` is neither configured nor bundled.
        """
        if name in self.country_lists:
            return set(self.country_lists[name])
        if name not in country_lists():
            raise ConfigError(f"unknown country list {name!r}; known: {sorted(country_lists())}")
        return set(country_lists()[name]["countries"])

    def rule_params(self, rule_id: str) -> dict:
        """Overrides configured for ``rule_id`` (may be empty)."""
        return dict(self.rules.get(rule_id, {}))

    @classmethod
    def from_toml(cls, text_or_path: str | Path) -> Config:
        """Load a configuration file (a :class:`~pathlib.Path` or a name ending in ``.toml``) or TOML text.

        The file has top-level ``jurisdiction`` and ``disabled_rules`` keys, one
        ``[rules."ML-05"]`` table per rule to override, and optionally a
        ``[country_lists]`` table (e.g. ``ht_source = ["NG", "VN"]``).

        Raises
        ------
        ConfigError
            Naming the file on a TOML syntax error or an unknown key.
        """
        return super().from_toml(text_or_path)

    @classmethod
    def from_dict(cls, data, origin: str | None = "config") -> Config:
        """Build from a plain dict (the shape of the TOML file).

        Raises
        ------
        ConfigError
            On an unknown key (naming the closest known one) or a bad value.
        """
        return super().from_dict(data, origin=origin)


_current: contextvars.ContextVar[Config] = contextvars.ContextVar("followmoney_config", default=Config())


def get_config() -> Config:
    """The configuration in force (the default, or the innermost :func:`config` block)."""
    return _current.get()


@contextlib.contextmanager
def config(cfg: Config | None = None, **changes):
    """Use a configuration for a block of code.

    Parameters
    ----------
    cfg : Config, optional
        Start from this configuration instead of the one in force.
    **changes
        Fields of :class:`Config` to change, e.g. ``jurisdiction="ID"``.

    Raises
    ------
    ConfigError
        On an unknown field or jurisdiction.
    """
    base = cfg if cfg is not None else get_config()
    new = base.replace(**changes)
    token = _current.set(new)
    try:
        yield new
    finally:
        _current.reset(token)
