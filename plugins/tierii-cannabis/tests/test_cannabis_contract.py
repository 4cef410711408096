"""Every shipped pack passes the compliance rule contract of tierii_core.testing."""

from __future__ import annotations

import attrs
import pytest

from tierii_cannabis import plugin as cannabis_plugin
from tierii_cannabis.plugin import pack_rules, tierii_compliance_rules
from tierii_core.testing import ComplianceRuleContract, make_contact, make_message

LICENCE = "C10-0000001-LIC"
WARNINGS = (
    "This product has intoxicating effects and may be habit forming. Cannabis can impair concentration, "
    "coordination, and judgment. Do not operate a vehicle or machinery under the influence of this drug. "
    "There may be health risks associated with consumption of this product. For use only by adults "
    "twenty-one and older. Keep out of the reach of children."
    # New York, New Jersey, Nevada, Massachusetts (tests/test_cannabis_states.py has them one by one)
    " For use only by adults 21 years of age and older. Keep out of reach of children and pets. In case of "
    "accidental ingestion or overconsumption, contact the Poison Center at 1-800-222-1222 or call 9-1-1. "
    "Please consume responsibly. Cannabis can be addictive."
    " This product contains cannabis. For use only by adults 21 years of age or older. Keep out of the reach "
    "of children. There may be health risks associated with the consumption of this product, including for "
    "women who are pregnant, breastfeeding, or planning on becoming pregnant. Do not drive a motor vehicle "
    "or operate heavy machinery while using this product. Licensed by the State of New Jersey."
    " Keep out of reach of children. For use only by adults 21 years of age and older."
    " This product may cause impairment and may be habit forming."
)
NAMES = sorted(cls.name for cls in pack_rules())


@pytest.fixture(autouse=True)
def licence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERII_CANNABIS_LICENSE_NUMBER", LICENCE)


class TestCannabisPackContract(ComplianceRuleContract):
    @pytest.fixture(params=NAMES)
    def component_class(self, request: pytest.FixtureRequest):
        return next(cls for cls in tierii_compliance_rules() if cls.name == request.param)

    @pytest.fixture
    def plugin(self):
        return cannabis_plugin

    @pytest.fixture
    def passing_contact(self, component_class):
        state = sorted(component_class.pack.states)[0]
        return make_contact(birthdate="1980-05-05", state=state, consent="yes")

    @pytest.fixture
    def failing_contact(self, component_class):
        state = sorted(component_class.pack.states)[0]
        return make_contact(birthdate="2020-05-05", state=state, consent="yes")

    @pytest.fixture
    def passing_message(self):
        return make_message(text=f"Restock news.\nLicence {LICENCE}.\n{WARNINGS}\n")

    @pytest.fixture
    def failing_message(self):
        return make_message(text=f"Candy-flavoured gummies!\nLicence {LICENCE}.\n{WARNINGS}\n")


class TestCannabisAutoContract(ComplianceRuleContract):
    """cannabis-auto, for a chain with a store in California."""

    @pytest.fixture(autouse=True)
    def stores(self, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
        path = tmp_path / "stores.csv"
        path.write_text(
            "id,license_number,license_type,state,from,address\n"
            f"sac,{LICENCE},retail,CA,Green Leaf <shop@example.com>,1 Main St\n",
            encoding="utf-8",
        )
        monkeypatch.setenv("TIERII_CANNABIS_STORES_FILE", str(path))

    @pytest.fixture
    def component_class(self):
        return next(cls for cls in tierii_compliance_rules() if cls.name == "cannabis-auto")

    @pytest.fixture
    def plugin(self):
        return cannabis_plugin

    @pytest.fixture
    def passing_contact(self):
        return make_contact(birthdate="1980-05-05", state="CA", consent="yes", store="sac")

    @pytest.fixture
    def failing_contact(self):
        return make_contact(birthdate="2020-05-05", state="CA", consent="yes", store="sac")

    @pytest.fixture
    def passing_message(self, passing_contact):
        return attrs.evolve(
            make_message(text=f"Restock news.\nLicence {LICENCE}.\n"), contact=passing_contact
        )

    @pytest.fixture
    def failing_message(self, passing_contact):
        message = make_message(text=f"Candy-flavoured gummies!\nLicence {LICENCE}.\n")
        return attrs.evolve(message, contact=passing_contact)
