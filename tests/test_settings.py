"""One settings base: typed fields, strict keys, declared ranges, exact dict/TOML round trips."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings as hsettings, strategies as st

import followmoney as fm
from followmoney.core.config import Config, jurisdictions
from followmoney.core.settings import Settings, setting
from followmoney.detect.features import FeatureSettings
from followmoney.exceptions import ConfigError
from followmoney.resolve import ResolverSettings

CLASSES = [Config, ResolverSettings, FeatureSettings]

text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
rule_id = st.from_regex(r"ML-[0-9]{2}", fullmatch=True)
name = st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True)
ccy = st.from_regex(r"[A-Z]{3}", fullmatch=True)
rate = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10**6), places=4)
hours = st.floats(min_value=0, max_value=1e6, exclude_min=True, allow_nan=False)

configs = st.builds(
    Config,
    jurisdiction=st.sampled_from(sorted(jurisdictions())),
    rules=st.dictionaries(rule_id, st.dictionaries(name, st.integers(-(10**9), 10**9) | st.booleans() | text, max_size=3), max_size=3),
    disabled_rules=st.lists(rule_id, max_size=4),
    country_lists=st.dictionaries(name, st.lists(st.from_regex(r"[A-Z]{2}", fullmatch=True), max_size=4), max_size=2),
    fx_rates=st.dictionaries(ccy, st.lists(st.fixed_dictionaries({"from": st.dates(), "rate": rate}), min_size=1, max_size=3), max_size=2),
)
resolver_settings = st.builds(
    ResolverSettings,
    strong_kinds=st.lists(text, max_size=4).map(tuple),
    link_held_accounts=st.booleans(),
    account_roles=st.lists(text, max_size=3),
    strong_name_min=st.floats(0, 1),
    name_threshold=st.floats(0, 1),
    min_name_tokens=st.integers(1, 10**6),
    corroboration=st.dictionaries(st.sampled_from(ResolverSettings._EVIDENCE), st.floats(0, 100)),
    min_corroboration=st.floats(-1e6, 1e6),
    max_block_size=st.integers(1, 2**40),
)
feature_settings = st.builds(
    FeatureSettings,
    window_hours=hours,
    short_window_hours=hours,
    pattern_window_hours=hours,
    max_cycle_length=st.integers(2, 8),
    max_branch=st.integers(1, 1024),
    max_paths=st.integers(1000, 10**9),
    night_hours=st.tuples(st.integers(0, 24), st.integers(0, 24)),
    round_unit=st.decimals(min_value=Decimal("0.01"), max_value=Decimal(10**6), places=2).map(str),
    cash_channels=st.lists(text, max_size=4),
)


@dataclasses.dataclass(frozen=True)
class _Money(Settings):
    """Settings with a Decimal, a date and tuples, as a user of the base would declare them."""

    limit: Decimal = setting(Decimal("10000.00"), gt=0)
    since: date = setting(date(2024, 1, 1))
    ratios: tuple[float, ...] = setting((0.5,), items=dict(ge=0, le=1))
    per_currency: dict[str, Decimal] = setting(default_factory=dict)


money = st.builds(
    _Money,
    limit=st.decimals(min_value=Decimal("0.001"), max_value=Decimal(10**12), places=3),
    since=st.dates(),
    ratios=st.lists(st.floats(0, 1), max_size=3),
    per_currency=st.dictionaries(ccy, st.decimals(allow_nan=False, allow_infinity=False, places=2), max_size=3),
)


def _round_trips(s):
    cls = type(s)
    assert cls.from_dict(s.to_dict()) == s
    assert cls.from_dict(json.loads(json.dumps(s.to_dict()))) == s  # how results and model files keep them
    assert cls.from_toml(s.to_toml()) == s


@hsettings(max_examples=60, deadline=None)
@given(configs)
def test_config_round_trips_through_dict_json_and_toml(cfg):
    _round_trips(cfg)
    assert Config(**{**cfg.to_dict(), "jurisdiction": "AU"}).jurisdiction == "AU"  # the pattern cli/pipeline use


@hsettings(max_examples=60, deadline=None)
@given(resolver_settings)
def test_resolver_settings_round_trip_through_dict_json_and_toml(s):
    _round_trips(s)


@hsettings(max_examples=60, deadline=None)
@given(feature_settings)
def test_feature_settings_round_trip_through_dict_json_and_toml(s):
    _round_trips(s)
    assert hash(s) == hash(FeatureSettings.from_dict(s.to_dict()))


@hsettings(max_examples=60, deadline=None)
@given(money)
def test_decimals_dates_and_tuples_survive_dict_and_toml(s):
    _round_trips(s)
    back = _Money.from_toml(s.to_toml())
    assert isinstance(back.limit, Decimal) and str(back.limit) == str(s.limit)  # exact, scale kept
    assert isinstance(back.ratios, tuple) and isinstance(back.since, date)


def test_money_is_never_a_float():
    with pytest.raises(ConfigError, match=r"_Money.limit must be a decimal, got 0.1"):
        _Money(limit=0.1)


def test_a_fx_rate_table_round_trips_from_toml_file(tmp_path):
    path = tmp_path / "fiu.toml"
    path.write_text('jurisdiction = "AU"\n[[fx_rates.NZD]]\nfrom = 2024-01-01\nrate = "0.9105"\n', encoding="utf-8")
    cfg = Config.from_toml(path)
    assert cfg.rate_table() == {"NZD": [(date(2024, 1, 1), Decimal("0.9105"))]}
    assert Config.from_dict(cfg.to_dict()) == cfg == Config.from_toml(cfg.to_toml())


# --------------------------------------------------------------------------- strict keys
@pytest.mark.parametrize(
    "cls, typo, known",
    [(Config, "jursdiction", "jurisdiction"), (ResolverSettings, "name_treshold", "name_threshold"),
     (FeatureSettings, "window_hour", "window_hours")],
)  # fmt: skip
def test_unknown_key_is_a_config_error_suggesting_the_closest(cls, typo, known, tmp_path):
    with pytest.raises(ConfigError, match=rf"unknown key '{typo}'; did you mean '{known}'\?"):
        cls.from_dict({typo: 1})
    path = tmp_path / "settings.toml"
    path.write_text(f"{typo} = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{path.name}: unknown key '{typo}'; did you mean '{known}'\?"):
        cls.from_toml(path)
    with pytest.raises(ConfigError, match=rf"did you mean '{known}'\?"):
        cls().replace(**{typo: 1})


def test_unknown_key_without_a_close_one_lists_the_known():
    with pytest.raises(ConfigError, match=r"unknown key 'zzz'; known: jurisdiction, rules, disabled_rules"):
        Config.from_dict({"zzz": 1})


def test_config_block_refuses_a_misspelt_setting():
    with pytest.raises(ConfigError, match="did you mean 'jurisdiction'"):
        with fm.config(jurisdction="AU"):
            pass
    with pytest.raises(ConfigError, match="unknown jurisdiction 'NZL'; did you mean 'NZ'"):
        Config(jurisdiction="NZL")


def test_unknown_evidence_kind_is_named():
    with pytest.raises(ConfigError, match=r"ResolverSettings.corroboration: unknown key 'phones'; did you mean 'phone'"):
        ResolverSettings(corroboration={"phones": 1.0})


# --------------------------------------------------------------------------- ranges and types
@pytest.mark.parametrize(
    "cls, kw, message",
    [
        (FeatureSettings, {"max_cycle_length": 9}, "FeatureSettings.max_cycle_length must be an int in [2, 8], got 9"),
        (FeatureSettings, {"window_hours": 0}, "FeatureSettings.window_hours must be a number > 0, got 0.0"),
        (FeatureSettings, {"max_paths": 10}, "FeatureSettings.max_paths must be an int in [1000, 1000000000], got 10"),
        (FeatureSettings, {"night_hours": (0, 30)}, "FeatureSettings.night_hours[1] must be an int in [0, 24], got 30"),
        (FeatureSettings, {"round_unit": "-5"}, "FeatureSettings.round_unit must be a decimal string > 0, got '-5'"),
        (ResolverSettings, {"name_threshold": 1.5}, "ResolverSettings.name_threshold must be a number in [0.0, 1.0], got 1.5"),
        (ResolverSettings, {"max_block_size": 0}, "ResolverSettings.max_block_size must be an int >= 1, got 0"),
        (_Money, {"ratios": (0.5, 2.0)}, "_Money.ratios[1] must be a number in [0, 1], got 2.0"),
    ],
)
def test_out_of_range_names_the_setting_the_value_and_the_range(cls, kw, message):
    with pytest.raises(ConfigError) as err:
        cls.from_dict(kw)
    assert str(err.value) == message
    assert isinstance(err.value, ValueError)  # callers catching ValueError keep working


@pytest.mark.parametrize(
    "cls, kw, message",
    [
        (FeatureSettings, {"max_branch": 2.5}, "FeatureSettings.max_branch must be an int, got 2.5"),
        (FeatureSettings, {"max_branch": True}, "FeatureSettings.max_branch must be an int, got True"),
        (ResolverSettings, {"strong_kinds": "passport"}, "ResolverSettings.strong_kinds must be a list, got 'passport'"),
        (Config, {"disabled_rules": "ML-05"}, "Config.disabled_rules must be a list, got 'ML-05'"),
        (ResolverSettings, {"name_threshold": float("nan")}, "ResolverSettings.name_threshold must be a number, got nan"),
    ],
)
def test_a_value_of_the_wrong_type_is_named(cls, kw, message):
    with pytest.raises(ConfigError) as err:
        cls(**kw)
    assert str(err.value) == message


def test_numpy_numbers_are_taken_as_python_numbers():
    np = pytest.importorskip("numpy")
    s = FeatureSettings(max_branch=np.int64(32), window_hours=np.float32(12))
    assert type(s.max_branch) is int and s.max_branch == 32 and type(s.window_hours) is float
    assert FeatureSettings.from_toml(s.to_toml()) == s


# --------------------------------------------------------------------------- one base
def test_settings_classes_share_the_base():
    for cls in CLASSES:
        assert issubclass(cls, Settings) and dataclasses.is_dataclass(cls), cls
        for method in ("__post_init__", "to_dict", "to_toml", "replace"):
            assert getattr(cls, method).__qualname__.startswith("Settings."), (cls, method)
    assert set(Settings.__subclasses__()) >= set(CLASSES)


@pytest.mark.parametrize("cls", CLASSES)
def test_each_default_is_documented_once_from_the_field(cls):
    doc = cls.__doc__
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        lines = [x for x in doc.splitlines() if x.strip().startswith(f"{f.name} : ")]
        assert len(lines) == 1, f.name
        line = lines[0]
        assert line.endswith(f", default {default!r}"), line


def test_frozen_dataclass_behaviour_is_kept():
    cfg = Config(jurisdiction="AU")
    assert dataclasses.replace(cfg, jurisdiction="US").jurisdiction == "US"
    with pytest.raises(ConfigError, match="Config.disabled_rules must be a list"):
        dataclasses.replace(cfg, disabled_rules=5)  # a copy is checked like a new instance
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.jurisdiction = "US"
    assert len({FeatureSettings(), FeatureSettings(window_hours=240)}) == 1


def test_a_model_file_written_before_the_base_still_loads(tmp_path):
    """The settings header of a model saved by followmoney before this base existed."""
    import zipfile

    old = {"window_hours": 72.0, "short_window_hours": 24.0, "pattern_window_hours": 480.0, "max_cycle_length": 5,
           "max_branch": 16, "max_paths": 5000000, "night_hours": [22, 5], "round_unit": "100",
           "cash_channels": ["cash_deposit", "cash_withdrawal", "atm"]}  # fmt: skip
    assert FeatureSettings.from_dict(old) == FeatureSettings(window_hours=72, night_hours=(22, 5))
    assert FeatureSettings.from_dict(old).to_dict() == old  # and is written back unchanged

    from followmoney.detect import models

    path = tmp_path / "old.fmmodel"
    header = {"format": models._MODEL_FORMAT, "format_version": models._MODEL_VERSION, "settings": old,
              "feature_names": [], "training_window": ["2024-01-01", "2024-02-01"], "metrics": {}, "versions": {}}  # fmt: skip
    skops = pytest.importorskip("skops.io")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(models._HEADER, json.dumps(header))
        z.writestr(models._SCORER, skops.dumps({"a": 1}))
    assert models.load_model(path).settings == FeatureSettings(window_hours=72, night_hours=(22, 5))


def test_round_unit_accepts_decimal_and_int_and_keeps_text():
    """Callers that passed ``Decimal("100")`` before the settings base still can (kept as text)."""
    assert FeatureSettings(round_unit=Decimal("100")).round_unit == "100"
    assert FeatureSettings(round_unit=25).round_unit == "25"
    assert FeatureSettings(round_unit=Decimal("0.50"))._round_cents == FeatureSettings(round_unit="0.5")._round_cents
    with pytest.raises(ConfigError, match="round_unit"):
        FeatureSettings(round_unit=1.5)  # money is never a float
