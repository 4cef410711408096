"""The README documents every pack and claim, and its example pack is the tested one."""

from __future__ import annotations

import re
from pathlib import Path

from tierii_cannabis.plugin import pack_rules

HERE = Path(__file__).resolve().parent
README = (HERE.parent / "README.md").read_text(encoding="utf-8")
EXAMPLE = (HERE / "data" / "green-leaf.toml").read_text(encoding="utf-8")
GUIDE = HERE.parents[2] / "docs" / "compliance" / "cannabis.md"


def test_the_readme_example_pack_is_the_tested_file() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", README, re.S)
    assert EXAMPLE in blocks


def test_the_readme_names_every_pack_and_every_claim() -> None:
    for cls in pack_rules():
        assert f"`{cls.name}`" in README, cls.name
        for claim in cls.pack.claims:
            assert f"`{claim.id}`" in README, f"{cls.name}: claim {claim.id} is not in the README"


def test_the_readme_lists_the_baseline_states() -> None:
    (baseline,) = [cls for cls in pack_rules() if cls.name == "cannabis-adult-use"]
    assert " ".join(sorted(baseline.pack.states)) in README


def test_the_user_guide_includes_the_tested_example() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    assert "<!-- include: plugins/tierii-cannabis/tests/data/green-leaf.toml -->" in guide
    assert f"```toml\n{EXAMPLE}```" in guide  # shown on GitHub too (tests/test_meta.py keeps it current)


def test_the_guide_s_state_table_names_every_state_pack() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    table = guide[guide.index("## 7. The states") :]
    for cls in pack_rules():
        if len(cls.pack.states) == 1:
            assert f"`{cls.name}`" in table, cls.name


def test_the_guide_s_new_state_example_is_a_pack_that_loads(tmp_path: Path) -> None:
    from tierii_cannabis.plugin import rules_from

    guide = GUIDE.read_text(encoding="utf-8")
    section = guide[guide.index("### Adding a state, as data") :]
    (example,) = re.findall(r"```toml\n(.*?)```", section, re.S)[:1]
    (tmp_path / "cannabis-or.toml").write_text(example, encoding="utf-8")
    (cls,) = rules_from(tmp_path)
    assert cls.name == "cannabis-or" and cls.pack.states == {"OR"}
    assert [m.id for m in cls.pack.manual][-1] == "or-images"
