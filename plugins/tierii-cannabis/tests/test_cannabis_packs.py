"""Pack files: the shipped ones, inheritance, your own packs, and every loading error."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from textwrap import dedent

import pytest
from click.testing import CliRunner

from tierii_cannabis import plugin as cannabis_plugin
from tierii_cannabis import rules_from
from tierii_cannabis.plugin import tierii_compliance_rules
from tierii_cannabis.stores import single_store
from tierii_core.cli import cli
from tierii_core.components import ComplianceRule
from tierii_core.errors import PluginError
from tierii_core.models import Message
from tierii_core.plugins import Registry, make_plugin_manager
from tierii_core.settings import CoreSettings

#: the example in the README and docs/compliance/cannabis.md
EXAMPLE_PACK = Path(__file__).parent / "data" / "green-leaf.toml"
SHIPPED = {
    "cannabis-adult-use",
    *(f"cannabis-{state}" for state in ("az", "ca", "co", "il", "ma", "mi", "nj", "nv", "ny", "wa")),
}

MINIMAL = """\
title = "Test pack"
states = ["CA"]
min_age = 21
consent_required = false
license_required = false

[sources]
age = "age law"
state = "state law"
"""


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text(dedent(text), encoding="utf-8")
    return path


def registered(pm_plugin: object = cannabis_plugin) -> dict[str, type[ComplianceRule]]:
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(pm_plugin, name="tierii-cannabis")
    pm.check_pending()
    return {
        info.name: info.cls
        for info in Registry(pm).components("rule")
        if info.plugin == "tierii-cannabis" and info.name != "cannabis-auto"
    }


# -- the shipped packs ----------------------------------------------------------------------------


def test_the_plugin_registers_one_opt_in_rule_per_shipped_pack() -> None:
    rules = registered()
    assert set(rules) == SHIPPED
    for name, cls in rules.items():
        assert issubclass(cls, ComplianceRule)
        assert cls.opt_in is True, f"{name} must run only when named in --rules"
        assert cls.marketing is False, f"{name} decides per check what transactional mail skips"
        description = cls.describe()
        assert description and "\n" not in description and description == cls.__doc__


def test_shipped_packs_are_the_same_classes_each_time() -> None:
    assert tierii_compliance_rules() == tierii_compliance_rules()


def test_the_entry_point_names_the_plugin_module() -> None:
    from importlib.metadata import entry_points

    (ep,) = [ep for ep in entry_points(group="tierii") if ep.name == "tierii-cannabis"]
    assert ep.load() is cannabis_plugin


def test_state_packs_extend_the_baseline() -> None:
    rules = registered()
    baseline = {claim.id for claim in rules["cannabis-adult-use"].pack.claims}
    for name in ("cannabis-ca", "cannabis-co", "cannabis-wa"):
        pack = rules[name].pack
        assert pack.extends == "cannabis-adult-use"
        assert baseline <= {claim.id for claim in pack.claims}
        assert pack.states == {name[-2:].upper()}


def test_every_check_cites_a_source() -> None:
    for cls in registered().values():
        pack = cls.pack
        assert {"age", "state"} <= set(pack.sources)
        assert all(claim.source and claim.reason for claim in pack.claims)
        assert all(required.source for required in pack.required)


def test_plugins_command_lists_the_packs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERII_LOAD_PLUGINS", "tierii-cannabis")
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    (row,) = [r for r in json.loads(result.output) if r["name"] == "tierii-cannabis"]
    assert row["components"] == sorted(f"rule:{name}" for name in {*SHIPPED, "cannabis-auto"})


# -- your own packs -------------------------------------------------------------------------------


def test_pack_dir_packs_become_rules_and_may_extend_a_shipped_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path / "packs",
        "my-ca.toml",
        """\
        title = "Our California rules"
        extends = "cannabis-ca"
        drop_claims = ["toys"]

        [[claims]]
        id = "edible-shapes"
        pattern = '''gummy bears?|gummy worms?'''
        reason = "edibles in shapes attractive to children"
        source = "4 CCR §17304 (our counsel's reading)"
        examples = ["Gummy bears are back"]
        counterexamples = ["Gummies are back"]

        [[claims]]
        id = "candy"
        source = "4 CCR §15040(a)(3)(D), as amended"
        """,
    )
    monkeypatch.setenv("TIERII_CANNABIS_PACK_DIR", str(tmp_path / "packs"))
    rules = registered()
    assert set(rules) == SHIPPED | {"my-ca"}
    pack = rules["my-ca"].pack
    assert pack.extends == "cannabis-ca" and pack.states == {"CA"} and pack.license_required
    ids = [claim.id for claim in pack.claims]
    assert "toys" not in ids and ids[-1] == "edible-shapes"
    candy = next(claim for claim in pack.claims if claim.id == "candy")
    assert candy.source == "4 CCR §15040(a)(3)(D), as amended" and candy.search("kandy")


def test_pack_dir_is_read_from_the_dotenv_file(tmp_path: Path) -> None:
    write(tmp_path / "packs", "tiny.toml", MINIMAL)
    Path(".env").write_text(f"TIERII_CANNABIS_PACK_DIR={tmp_path / 'packs'}\n", encoding="utf-8")
    assert "tiny" in registered()


def test_a_pack_may_extend_another_of_the_same_directory(tmp_path: Path) -> None:
    write(tmp_path, "base.toml", MINIMAL)
    write(tmp_path, "child.toml", 'title = "Child"\nextends = "base"\nstates = ["CO", "wa"]\nmin_age = 25\n')
    rules = {cls.name: cls for cls in rules_from(tmp_path)}
    assert rules["child"].pack.states == {"CO", "WA"} and rules["child"].pack.min_age == 25
    assert rules["child"].pack.sources["age"] == "age law"


def test_the_name_defaults_to_the_file_name(tmp_path: Path) -> None:
    write(tmp_path, "ours.toml", MINIMAL)
    write(tmp_path, "theirs.toml", 'name = "renamed"\n' + MINIMAL)
    assert sorted(cls.name for cls in rules_from(tmp_path)) == ["ours", "renamed"]


# -- loading errors: each names the file and the problem -------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("title = 'x'\nstates = [CA]\n", "not valid TOML: Invalid value (at line 2, column 11)"),
        ("min_agee = 3\n" + MINIMAL, "unknown key 'min_agee'"),
        (MINIMAL.replace('title = "Test pack"\n', ""), "'title' is missing"),
        (MINIMAL.replace("min_age = 21", 'min_age = "21"'), "min_age must be a whole number, not '21'"),
        (MINIMAL.replace("min_age = 21", "min_age = true"), "min_age must be a whole number, not True"),
        (MINIMAL.replace("min_age = 21", "min_age = 0"), "min_age = 0 is not an age (1 to 120)"),
        (
            MINIMAL.replace("consent_required = false", "consent_required = 'no'"),
            "consent_required must be true or false",
        ),
        (MINIMAL.replace('["CA"]', '["CA", "XX"]'), "states: 'XX' is not a USPS state code"),
        (MINIMAL.replace('["CA"]', "[]"), "states is empty"),
        (MINIMAL.replace('["CA"]', '"CA"'), "states must be a list of texts, not 'CA'"),
        ('name = "Bad_Name"\n' + MINIMAL, "name 'Bad_Name' is not a pack name"),
        ("medical_min_age = 25\n" + MINIMAL, "medical_min_age 25 is above min_age 21"),
        (MINIMAL.replace("min_age = 21\n", ""), "min_age is missing"),
        ('extends = "bad"\n' + MINIMAL, "extends makes a loop: bad -> bad"),
        ('extends = "nowhere"\n' + MINIMAL, "extends 'nowhere', but there is no such pack"),
        (MINIMAL.replace("consent_required = false", "consent_required = true"), "[sources] needs consent"),
        ('drop_claims = ["candy"]\n' + MINIMAL, "drop_claims: 'candy' is not an id of this pack"),
        (MINIMAL + "\n[sources2]\nx = 1\n", "unknown key 'sources2'"),
        (MINIMAL + "min_agee = 3\n", "sources: unknown key 'min_agee'"),  # a key after [sources] is in it
        (MINIMAL.replace("[sources]", "[sources]\nlaw = 'x'"), "sources: unknown key 'law'"),
        ("claims = 3\n" + MINIMAL, "claims must be an array of tables"),
        (MINIMAL + "[[claims]]\npattern = 'x'\n", "claims[0]: every entry needs an id"),
        (MINIMAL + "[[claims]]\nid = 'a'\npattern = 'x'\n", "claims 'a': reason, source missing"),
        (
            MINIMAL + "[[claims]]\nid = 'a'\npattern = 'x'\nreason = 'r'\nsource = 's'\nsauce = 1\n",
            "claims 'a': unknown key 'sauce'",
        ),
        (
            MINIMAL + "[[claims]]\nid = 'a'\npattern = 'x'\nreason = 'r'\nsource = 's'\n"
            "[[claims]]\nid = 'a'\npattern = 'y'\nreason = 'r'\nsource = 's'\n",
            "claims 'a': the id is used twice in this file",
        ),
        (
            MINIMAL + "[[claims]]\nid = 'a'\npattern = '(oops'\nreason = 'r'\nsource = 's'\n",
            "claims 'a': pattern does not compile: missing ), unterminated subpattern at position 0",
        ),
        (
            MINIMAL
            + "[[claims]]\nid = 'a'\npattern = 'candy'\nreason = 'r'\nsource = 's'\nexamples = ['sweets']\n",
            "claims 'a': the pattern does not match its example 'sweets'",
        ),
        (
            MINIMAL + "[[claims]]\nid = 'a'\npattern = 'cand\\w*'\nreason = 'r'\nsource = 's'\n"
            "counterexamples = ['a candidate']\n",
            "claims 'a': the pattern matches 'candidate' in its counterexample 'a candidate'",
        ),
        (
            MINIMAL + "[[required]]\nid = 'w'\ntext = 'Keep away'\nsource = 's'\npattern = 'keep out'\n",
            "required 'w': the pattern does not match the text it stands for",
        ),
        (MINIMAL + "[[required]]\nid = 'w'\nsource = 's'\n", "required 'w': text missing"),
    ],
)
def test_a_malformed_pack_is_an_error_naming_the_file_and_the_problem(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = write(tmp_path, "bad.toml", text)
    with pytest.raises(PluginError) as caught:
        rules_from(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert problem in message, message


def test_a_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_bytes(b'title = "caf\xe9"\n')
    with pytest.raises(PluginError, match=r"bad\.toml: not UTF-8 text"):
        rules_from(tmp_path)


def test_extends_loops_are_errors(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", 'extends = "b"\n' + MINIMAL)
    write(tmp_path, "b.toml", 'extends = "a"\n' + MINIMAL)
    with pytest.raises(PluginError, match=r"[ab]\.toml: extends makes a loop: a -> b -> a"):
        rules_from(tmp_path)


def test_a_pack_cannot_take_a_shipped_pack_name(tmp_path: Path) -> None:
    write(tmp_path, "cannabis-ca.toml", MINIMAL)
    with pytest.raises(PluginError) as caught:
        rules_from(tmp_path)
    assert "pack name 'cannabis-ca' is already used by tierii_cannabis/packs/cannabis-ca.toml" in str(
        caught.value
    )
    assert "give yours another name and extends = its name" in str(caught.value)


def test_two_files_cannot_name_the_same_pack(tmp_path: Path) -> None:
    write(tmp_path, "one.toml", 'name = "same"\n' + MINIMAL)
    write(tmp_path, "two.toml", 'name = "same"\n' + MINIMAL)
    with pytest.raises(PluginError, match=r"two\.toml: pack name 'same' is already used by .*one\.toml"):
        rules_from(tmp_path)


def test_a_missing_pack_dir_is_an_error_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERII_CANNABIS_PACK_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(PluginError, match=r"TIERII_CANNABIS_PACK_DIR='.*nowhere': no such directory"):
        tierii_compliance_rules()


def test_a_broken_pack_stops_the_command_with_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "packs", "broken.toml", "min_agee = 3\n" + MINIMAL)
    monkeypatch.setenv("TIERII_CANNABIS_PACK_DIR", str(tmp_path / "packs"))
    monkeypatch.setenv("TIERII_LOAD_PLUGINS", "tierii-cannabis")
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 2
    assert f"error: {path}: unknown key 'min_agee'" in result.output


def test_the_documented_example_pack_loads_and_works(make_message: Callable[..., Message]) -> None:
    (cls,) = rules_from(EXAMPLE_PACK.parent)
    assert cls.name == "green-leaf" and cls.pack.extends == "cannabis-ca"
    book = single_store("C10-1", "retail", "test")
    rule = cls(cls.Settings(), CoreSettings(), today=date(2025, 6, 15), book=book)
    reason = rule.check_message(make_message(text="Licence C10-1. The strongest flower in town!"))
    assert reason is not None and "§26151(d)" in reason and "'strongest flower in town'" in reason


def test_shipped_packs_resolve_checked() -> None:
    """A run registers the shipped packs unchecked (patterns compiled on first use); here every
    one is resolved as a pack of the user's would be: patterns compiled, examples matched."""
    from tierii_cannabis.model import LazyPattern, for_claims
    from tierii_cannabis.packs import index, resolve, shipped_files

    files = index(shipped_files())
    for name in files:
        checked, lazy = resolve(name, files), resolve(name, files, checked=False)
        assert checked == lazy  # the same pack: only when the work is done differs
        assert all(isinstance(c.regex, re.Pattern) for c in checked.claims)
        assert all(isinstance(c.regex, LazyPattern) for c in lazy.claims)
        for claim in lazy.claims:  # compiled now, on first use: they match as loading checks
            assert all(claim.search(for_claims(text)) for text in claim.examples)
            assert not any(claim.search(for_claims(text)) for text in claim.counterexamples)
