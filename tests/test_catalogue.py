"""The rule catalogue: rule text and parameters as data, bound to the code by id, and the docs made from it."""

import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from followmoney.cli import main
from followmoney.detect.rules import REGISTRY
from followmoney.detect.rules.__main__ import main as docs_main
from followmoney.detect.rules.catalogue import CATALOGUE, CATALOGUE_PATH, load_catalogue, rules_markdown
from followmoney.exceptions import CatalogueError, ParameterError

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "rules.md"


def test_committed_rule_reference_is_what_the_catalogue_generates():
    assert DOCS.read_text(encoding="utf-8") == rules_markdown(), "docs/rules.md is out of date: run `make docs`"
    assert docs_main([str(DOCS), "--check"]) == 0


def test_docs_check_fails_on_a_stale_reference(tmp_path, capsys):
    stale = tmp_path / "rules.md"
    stale.write_text(rules_markdown().replace("| `min_counterparties` | 5 |", "| `min_counterparties` | 9 |"), encoding="utf-8")
    assert docs_main([str(stale), "--check"]) == 1
    assert "make docs" in capsys.readouterr().err
    assert docs_main([str(stale)]) == 0 and stale.read_text(encoding="utf-8") == rules_markdown()


def test_reference_lists_every_rule_with_its_text_and_parameters():
    text = rules_markdown()
    for rule_id, entry in CATALOGUE.items():
        assert f"## {rule_id} {entry.name}" in text
        assert entry.description in text and entry.source in text and f"`{entry.typology}`" in text
        for p in entry.params:
            assert f"| `{p.name}` |" in text
    # unit, default and range of one parameter as a reader sees them
    assert "| `window_days` | 30 | days | 1 to 366 |" in text
    assert "| `max_paths` | 10,000,000 | path extensions | 1,000 to 100,000,000 |" in text


def test_readme_links_the_rule_reference():
    assert "](docs/rules.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_registered_rules_take_their_text_and_parameters_from_the_catalogue():
    assert list(CATALOGUE) and set(CATALOGUE) <= set(REGISTRY)
    for rule_id, entry in CATALOGUE.items():
        rule = REGISTRY[rule_id]
        assert (rule.name, rule.typology, rule.description, rule.source) == (entry.name, entry.typology, entry.description, entry.source)
        assert rule.params == entry.params
        assert rule.func is not None and rule.explain is not None


def test_parameter_checks_are_the_settings_checks_naming_rule_parameter_and_unit():
    fan_in = REGISTRY["ML-05"]
    assert fan_in.resolve_params({"min_counterparties": 6})["min_counterparties"] == 6
    with pytest.raises(ParameterError, match=r"^ML-05\.window_days must be a number in \[0\.041666666666666664, 3660\], got 0\.01 \(days\)$"):
        fan_in.resolve_params({"window_days": 0.01})
    with pytest.raises(ParameterError, match=r"^ML-05\.min_counterparties must be an int, got 6\.5 \(count\)$"):
        fan_in.resolve_params({"min_counterparties": 6.5})
    with pytest.raises(ParameterError, match=r"^ML-05: unknown parameter 'nope'; known: min_counterparties, "):
        fan_in.resolve_params({"nope": 1})


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)


def test_rule_code_without_a_catalogue_entry_fails_at_import_naming_the_id():
    r = _run("""
        import importlib
        import followmoney.detect.rules.catalogue as c
        del c.CATALOGUE["ML-05"]
        importlib.reload(importlib.import_module("followmoney.detect.rules._fan"))
    """)
    assert r.returncode != 0
    assert "CatalogueError: rule ML-05 has code but no entry in catalogue.toml" in r.stderr


def test_catalogue_entry_without_rule_code_fails_at_import_naming_the_id():
    r = _run("""
        import importlib
        import followmoney.detect.rules as rules
        import followmoney.detect.rules.catalogue as c
        c.CATALOGUE["ZZ-01"] = c.Entry("ZZ-01", "n", "t", "d", "s")
        importlib.reload(rules)
    """)
    assert r.returncode != 0
    assert "CatalogueError: catalogue.toml: rule(s) ZZ-01 have an entry but no code" in r.stderr


_GOOD_RULE = """
[rules."XX-01"]
name = "Large transfer"
typology = "large_transfer"
description = "One big transfer."
source = "in-house"
"""


def _param(**fields) -> str:
    base = {"name": '"k"', "kind": '"int"', "default": "3", "unit": '"count"', "low": "1", "high": "10", "doc": '"Count."'}
    base.update(fields)
    return '[[rules."XX-01".params]]\n' + "".join(f"{k} = {v}\n" for k, v in base.items() if v is not None)


def test_a_valid_catalogue_file_loads_with_kinds_units_and_ranges(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text(_GOOD_RULE + _param() + _param(name='"share"', kind='"Decimal"', default='"0.50"', low='"0"', high='"1"', unit='"fraction"'))
    entry = load_catalogue(f)["XX-01"]
    k, share = entry.params
    assert (k.kind, k.default, k.unit, k.low, k.high) == (int, 3, "count", 1, 10)
    assert (share.kind, share.default, share.low, share.high) == (Decimal, Decimal("0.50"), Decimal(0), Decimal(1))
    assert share.validate("0.25", "XX-01") == Decimal("0.25")
    with pytest.raises(ParameterError, match=r"^XX-01\.share must be a decimal in \[0, 1\], got Decimal\('2'\) \(fraction\)$"):
        share.validate(2, "XX-01")


def test_a_bool_parameter_loads_without_a_range_and_reads_as_in_toml(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text(_GOOD_RULE + _param(name='"strict"', kind='"bool"', default="true", unit='"on/off"', low=None, high=None, doc='"Strict."'))
    catalogue = load_catalogue(f)
    (strict,) = catalogue["XX-01"].params
    assert (strict.kind, strict.default, strict.low, strict.high) == (bool, True, None, None)
    assert strict.validate(False, "XX-01") is False
    with pytest.raises(ParameterError, match=r"^XX-01\.strict must be a boolean, got 1 \(on/off\)$"):
        strict.validate(1, "XX-01")
    assert "| `strict` | true | on/off | true or false | Strict. |" in rules_markdown(catalogue)


@pytest.mark.parametrize(
    "text, message",
    [
        (_GOOD_RULE + _param(default="0"), r"c\.toml: rule XX-01, parameter k: the default is invalid: XX-01\.k must be an int in \[1, 10\], got 0 \(count\)"),
        (_GOOD_RULE + _param(kind='"text"'), r"c\.toml: rule XX-01, parameter k: kind 'text' is not one of"),
        (_GOOD_RULE + _param(default="3.5"), r"c\.toml: rule XX-01, parameter k: default: an int parameter's numbers must be integers"),
        (_GOOD_RULE + _param(unit=None), r"c\.toml: rule XX-01, parameter k: missing key\(s\) \['unit'\]"),
        (_GOOD_RULE + _param(colour='"red"'), r"c\.toml: rule XX-01, parameter k: unknown key\(s\) \['colour'\]"),
        (_GOOD_RULE + _param(low="20"), r"c\.toml: rule XX-01, parameter k: low 20 is above high 10"),
        (_GOOD_RULE + _param() + _param(), r"c\.toml: rule XX-01: parameter\(s\) \['k'\] declared twice"),
        (_GOOD_RULE.replace('name = "Large transfer"\n', ""), r"c\.toml: rule XX-01: name must be a non-empty string"),
        (_GOOD_RULE + 'severity = "high"\n', r"c\.toml: rule XX-01: unknown key\(s\) \['severity'\]"),
        (_GOOD_RULE + _param(kind='"Decimal"', default="0.5", low='"0"', high='"1"'), r"c\.toml: rule XX-01, parameter k: default: a Decimal parameter's numbers are written as strings"),
        (_GOOD_RULE + _param(kind='"bool"', default="1", low=None, high=None), r"c\.toml: rule XX-01, parameter k: default: a bool parameter is true or false, got 1"),
        (_GOOD_RULE + _param(kind='"bool"', default="true"), r"c\.toml: rule XX-01, parameter k: a bool parameter has no range \(low, high\)"),
        ('[rules."XX-01"\nname = 1\n', r"c\.toml: not valid TOML: .*line 1"),
    ],
)
def test_a_bad_catalogue_file_is_one_line_naming_file_rule_and_parameter(tmp_path, text, message):
    f = tmp_path / "c.toml"
    f.write_text(text)
    with pytest.raises(CatalogueError, match=message) as err:
        load_catalogue(f)
    assert "\n" not in str(err.value)


def test_the_package_ships_the_catalogue_next_to_its_loader():
    assert CATALOGUE_PATH.name == "catalogue.toml" and CATALOGUE_PATH.parent.name == "rules"
    assert load_catalogue() == CATALOGUE


def test_cli_lists_and_describes_rules_from_the_catalogue():
    r = CliRunner().invoke(main, ["rules"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert len(lines) == len(REGISTRY) and lines[0].split()[0] == next(iter(CATALOGUE))
    assert any(line.split()[0] == "ML-05" and line.endswith(CATALOGUE["ML-05"].name) for line in lines)
    r = CliRunner().invoke(main, ["rules", "ML-05"])
    assert r.exit_code == 0, r.output
    entry = CATALOGUE["ML-05"]
    assert entry.description in r.output and entry.source in r.output
    assert "min_counterparties = 5 count (range 2 to 10,000): Distinct senders needed within the window." in r.output
    r = CliRunner().invoke(main, ["rules", "ML-99"])
    assert r.exit_code == 3 and "unknown rule id(s) 'ML-99'" in r.output
