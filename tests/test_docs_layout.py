"""The README's layout section and docs/design.md describe the tree as it is (issue 17)."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "followmoney"


def _layout_block() -> str:
    text = (ROOT / "README.md").read_text("utf-8")
    section = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return section.split("```", 2)[1]


def _layers() -> list[list[str]]:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    contract = next(c for c in cfg["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    return [[m.strip() for m in layer.split("|")] for layer in contract["layers"]]


def test_every_stage_of_the_tree_is_in_the_readme_layout():
    listed = set(re.findall(r"^  (\S+?)/?(?:\.py)?\s", _layout_block(), re.M))
    on_disk = {p.stem for p in PKG.iterdir() if not p.name.startswith(("_", ".")) and (p.suffix == ".py" or (p / "__init__.py").exists())}
    on_disk |= {"data"} if (PKG / "data").is_dir() else set()
    assert on_disk - listed == set(), "packages missing from the README's layout section"
    assert listed - on_disk - {"__init__"} == set(), "the README lists packages that do not exist"


def test_readme_layout_lists_the_layers_top_down():
    """Each line may import only the lines below it: the order must be the contract's."""
    block = _layout_block()
    position = {m: block.index(f"  {m}") for layer in _layers() for m in layer if f"  {m}" in block}
    order = [min(position[m] for m in layer if m in position) for layer in _layers() if any(m in position for m in layer)]
    assert order == sorted(order)


def test_design_notes_name_every_layer():
    design = (ROOT / "docs" / "design.md").read_text("utf-8")
    table = [line for line in design.splitlines() if re.match(r"^\| \d+ \|", line)]
    assert len(table) == len(_layers())
    for line, layer in zip(table, _layers()):  # highest first, as in pyproject
        assert all(f"`{m}`" in line for m in layer), line
