"""CAN-SPAM's advertisement notice: the consent evidence that waives it, read from any value."""

from __future__ import annotations

from datetime import date, datetime, timezone

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tierii_core.default_plugins.compliance import AdvertisementNotice, consent_on_record
from tierii_core.settings import CoreSettings
from tierii_core.testing import make_message


@pytest.mark.parametrize(
    "value",
    ["yes", "YES", " y ", "true", "True", "1", "2024-03-01", "2024-03-01T10:00:00Z", "2024-03-01 10:00",
     True, 1, date(2024, 3, 1), datetime(2024, 3, 1, tzinfo=timezone.utc)],
)  # fmt: skip
def test_consent_evidence(value: object) -> None:
    assert consent_on_record({"consent": value})
    assert consent_on_record({"Consent": value}), "the column in any case"


@pytest.mark.parametrize(
    "value", ["no", "", "0", "false", "later", "2024-02-30", "01/03/2024", None, False, 0]
)
def test_no_consent_evidence(value: object) -> None:
    assert not consent_on_record({"consent": value})
    assert not consent_on_record({})


@given(st.dates(min_value=date(1900, 1, 1)))
def test_any_real_date_is_evidence(day: date) -> None:
    assert consent_on_record({"consent": day.isoformat()})


@given(st.one_of(st.text(max_size=30), st.integers(), st.none(), st.booleans(), st.floats(allow_nan=True)))
def test_any_value_gives_an_answer_without_raising(value: object) -> None:
    assert consent_on_record({"consent": value}) in (True, False)


def test_the_rule_waives_per_recipient_and_reports_which_applied() -> None:
    rule = AdvertisementNotice(AdvertisementNotice.Settings(), CoreSettings())
    assert rule.notes() == ()
    with_consent = make_message(text="Spring offers.")
    consented = attrs.evolve(
        with_consent, contact=attrs.evolve(with_consent.contact, fields={"consent": "yes"})
    )
    assert rule.check_message(consented) is None
    assert rule.notes() == ("ad notice: waived (every recipient has consent on record)",)
    reason = rule.check_message(make_message(text="Spring offers."))
    assert reason is not None and "does not show the notice 'Advertisement'" in reason
    assert rule.check_message(make_message(text="Spring offers. ADVERTISEMENT")) is None
    assert rule.notes() == (
        "ad notice: 'Advertisement' required for recipients without consent on record, "
        "waived for those with it",
    )


def test_an_empty_notice_setting_requires_consent_from_everyone() -> None:
    rule = AdvertisementNotice(AdvertisementNotice.Settings(), CoreSettings(ad_notice=""))
    reason = rule.check_message(make_message(text="Advertisement"))
    assert reason is not None and reason.startswith(
        "TIERII_AD_NOTICE is empty and this recipient has no consent"
    )


def test_the_core_licence_number_is_a_deprecated_reading_of_the_old_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TIERII_LICENSE_NUMBER", " C10-1 ")
    with pytest.warns(DeprecationWarning, match="TIERII_CANNABIS_LICENSE_NUMBER"):
        assert CoreSettings().license_number == "C10-1"
    monkeypatch.delenv("TIERII_LICENSE_NUMBER")
    with pytest.warns(DeprecationWarning):
        assert CoreSettings().license_number == ""
