"""The provider against moto's SES over real HTTP: what lands in moto's record of sent messages,
the account's limits, and every error SES answers (through the fault proxy where moto cannot)."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

import pytest
from structlog.testing import capture_logs

from tierii_core.errors import ConfigurationError, FatalProviderError
from tierii_core.models import Address, Message, Status
from tierii_core.testing.messages import make_message
from tierii_ses.provider import SesProvider
from tierii_ses.settings import SesSettings
from tierii_ses.testing import FaultProxy, LocalSes, account

Build = Callable[..., SesProvider]


def without_boundary(raw: bytes) -> bytes:
    """The MIME bytes with the multipart boundary (random per serialisation) made constant."""
    boundary = re.search(rb'boundary="?([^";\r\n]+)"?', raw)
    return raw.replace(boundary.group(1), b"BOUNDARY") if boundary else raw


# -- what SES receives -------------------------------------------------------------------------


def test_the_raw_mime_tierii_built_reaches_ses_unchanged(local_ses: LocalSes, provider_for: Build) -> None:
    message = make_message(
        "zoe@example.org",
        name="Zoë Çelik",
        subject="Ваш заказ готов, Zoë ✓",
        text="Hi Zoë,\n\nyour order is ready.\n",
        html="<p>Hi Zoë, your order is <b>ready</b>.</p>",
        headers=(
            ("List-Unsubscribe", "<https://shop.example/u?t=abc>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ),
    )
    [outcome] = provider_for().send([message])
    assert outcome.status is Status.SENT, outcome
    [sent] = local_ses.sent()
    assert outcome.provider_message_id == sent.message_id
    # byte for byte what preview and outbox show (each serialisation draws its own boundary)
    assert without_boundary(sent.raw) == without_boundary(message.as_bytes())
    assert sent.source == "shop@example.com"
    assert sent.destinations == ("zoe@example.org",)
    parsed = sent.parsed
    assert parsed["Subject"] == "Ваш заказ готов, Zoë ✓"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>Hi Zoë, your order is <b>ready</b>.</p>"


def test_the_envelope_names_only_the_recipient_and_the_configuration_set_goes_along(
    proxy: FaultProxy, provider_for: Build, messages: Callable[..., list[Message]]
) -> None:
    [message] = messages(1)
    [outcome] = provider_for(configuration_set="marketing").send([message])
    assert outcome.status is Status.SENT
    [request] = proxy.sends
    assert request["Destination"] == {"ToAddresses": ["user0@example.org"]}
    assert request["FromEmailAddress"] == "shop@example.com"
    assert request["ConfigurationSetName"] == "marketing"
    assert without_boundary(base64.b64decode(request["Content"]["Raw"]["Data"])) == without_boundary(
        message.as_bytes()
    )


def test_no_configuration_set_unless_one_is_set(proxy: FaultProxy, provider_for: Build, messages) -> None:
    provider_for().send(messages(1))
    assert "ConfigurationSetName" not in proxy.sends[0]


def test_a_sender_ses_refuses_fails_only_that_message(
    local_ses: LocalSes, provider_for: Build, messages: Callable[..., list[Message]]
) -> None:
    """moto itself refuses a sender whose domain has no identity: MessageRejected, permanent."""
    stranger = make_message("ann@example.org", sender=Address("shop@unverified.example"))
    provider = provider_for()
    outcomes = [provider.send([m])[0] for m in [*messages(1), stranger, *messages(1, start=1)]]
    assert [o.status for o in outcomes] == [Status.SENT, Status.FAILED, Status.SENT]
    assert not outcomes[1].is_transient
    assert "MessageRejected" in (outcomes[1].reason or "")
    assert "shop@unverified.example" in (outcomes[1].reason or "")
    assert sorted(r for m in local_ses.sent() for r in m.destinations) == [
        "user0@example.org",
        "user1@example.org",
    ]


# -- limits ------------------------------------------------------------------------------------


def test_without_getaccount_the_limits_come_from_getsendquota(local_ses: LocalSes) -> None:
    """moto's server has no GetAccount (404): SES v1's quota, 1 msg/s and 200 a day, is used."""
    provider = SesProvider(SesSettings(region="us-east-1"), None)
    with capture_logs() as logs, provider:
        assert provider.limits.source == "GetSendQuota"
        assert (provider.limits.max_send_rate, provider.max_per_day) == (1.0, 200)
        assert provider.max_per_minute is None  # not known before open(): the provider paces itself
        assert provider._bucket is not None and provider._bucket.rate == 1.0
    assert any(e["event"] == "ses.limits_fallback" and "404" in e["reason"] for e in logs)


def test_settings_override_the_account(local_ses: LocalSes) -> None:
    provider = SesProvider(SesSettings(region="us-east-1", max_send_rate=50, daily_quota=5000), None)
    assert provider.max_per_minute == 3000  # known before open(): the core paces calls too
    with provider:
        assert (provider.limits.max_send_rate, provider.max_per_day) == (50, 5000)
        assert provider.limits.source == "GetSendQuota+settings"


def test_getaccount_gives_the_limits_and_what_is_left_of_the_24_hours(proxy: FaultProxy) -> None:
    proxy.account = account(max_send_rate=14, max_24_hour_send=50000, sent=49000)
    with SesProvider(SesSettings(region="us-east-1"), None) as provider:
        assert provider.limits.source == "GetAccount"
        assert provider.max_per_day == 1000
        assert provider._bucket is not None and provider._bucket.rate == 14


def test_an_unlimited_quota_is_no_limit(proxy: FaultProxy) -> None:
    proxy.account = account(max_24_hour_send=-1)
    with SesProvider(SesSettings(region="us-east-1"), None) as provider:
        assert provider.max_per_day is None


def test_no_limits_anywhere_sends_with_a_warning(proxy: FaultProxy, messages) -> None:
    proxy.account = "server_error"
    proxy.send_quota_fault = "server_error"
    provider = SesProvider(SesSettings(region="us-east-1"), None)
    with capture_logs() as logs, provider:
        assert (provider.max_per_day, provider._bucket) == (None, None)
        assert provider.send(messages(1))[0].status is Status.SENT
    [warning] = [e for e in logs if e["event"] == "ses.limits_unknown"]
    assert "GetAccount: InternalFailure" in warning["reason"]
    assert "GetSendQuota: InternalFailure" in warning["reason"]
    assert "TIERII_SES_MAX_SEND_RATE" in warning["detail"]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (account(SendingEnabled=False), "sending is disabled"),
        (account(max_24_hour_send=200, sent=200), "24-hour sending quota is used up"),
        ("bad_key", "does not recognise the access key"),
    ],
)
def test_an_account_that_cannot_send_stops_before_anything_is_sent(
    proxy: FaultProxy, answer: object, expected: str
) -> None:
    proxy.account = answer  # type: ignore[assignment]
    with pytest.raises(FatalProviderError, match=expected):
        SesProvider(SesSettings(region="us-east-1"), None).open()
    assert proxy.sends == []


def test_no_credentials_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match=r"no AWS credentials.*AWS_ACCESS_KEY_ID"):
        SesProvider(SesSettings(region="us-east-1"), None).open()


def test_no_region_is_a_configuration_error(local_ses: LocalSes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    with pytest.raises(ConfigurationError, match="TIERII_SES_REGION"):
        SesProvider(SesSettings(), None).open()


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("throttle", "TooManyRequestsException"),
        ("throttling", "ThrottlingException"),
        ("server_error", "InternalFailure"),
    ],
)
def test_throttling_and_server_errors_are_transient_and_send_nothing(
    proxy: FaultProxy, local_ses: LocalSes, provider_for: Build, messages, fault: str, code: str
) -> None:
    provider = provider_for()
    proxy.fail_next(fault)
    [outcome] = provider.send(messages(1))
    assert (outcome.status, outcome.is_transient) == (Status.FAILED, True)
    assert code in (outcome.reason or "")
    assert local_ses.sent() == []
    assert provider.send(messages(1))[0].status is Status.SENT  # the retry goes through


def test_message_rejected_is_permanent(proxy: FaultProxy, provider_for: Build, messages) -> None:
    proxy.fail_next("reject")
    [outcome] = provider_for().send(messages(1))
    assert (outcome.status, outcome.is_transient) == (Status.FAILED, False)
    assert outcome.reason == "SES MessageRejected (400): Email address is not verified."


@pytest.mark.parametrize(
    ("fault", "expected"),
    [("paused", "SES has paused sending for the account"), ("quota", "24-hour sending quota is used up")],
)
def test_a_paused_account_stops_the_run(
    proxy: FaultProxy, provider_for: Build, messages, fault: str, expected: str
) -> None:
    provider = provider_for()
    proxy.fail_next(fault)
    with pytest.raises(FatalProviderError, match=expected) as raised:
        provider.send(messages(1))
    assert "re-run" in str(raised.value)
    with pytest.raises(FatalProviderError):  # and stays stopped: nothing more goes out
        provider.send(messages(1, start=1))
    assert len(proxy.sends) == 1


def test_a_fatal_error_after_an_accepted_message_keeps_that_message_sent(
    proxy: FaultProxy, local_ses: LocalSes, provider_for: Build, messages
) -> None:
    """A caller handing several messages to one send(): the accepted one is reported sent, the
    others not sent, and the next call stops the run."""
    provider = provider_for()
    proxy.fail_next("pass")
    proxy.fail_next("paused")
    outcomes = provider.send(messages(3))
    assert [o.status for o in outcomes] == [Status.SENT, Status.FAILED, Status.FAILED]
    assert all("paused" in (o.reason or "") for o in outcomes[1:])
    assert len(proxy.sends) == 2  # the third was never tried
    with pytest.raises(FatalProviderError):
        provider.send(messages(1, start=5))
    assert [m.destinations for m in local_ses.sent()] == [("user0@example.org",)]


@pytest.mark.parametrize("fault", ["lose_answer", "hang"])
def test_an_answer_lost_after_sending_is_unknown(
    proxy: FaultProxy, local_ses: LocalSes, provider_for: Build, messages, fault: str
) -> None:
    provider = provider_for(timeout=1.0)
    proxy.fail_next(fault)
    [outcome] = provider.send(messages(1))
    assert outcome.status is Status.UNKNOWN, outcome
    assert (outcome.reason or "").startswith("sent to SES, answer lost")
    # and rightly so: SES did take it
    assert [m.destinations for m in local_ses.sent()] == [("user0@example.org",)]


def test_no_connection_is_transient(local_ses: LocalSes, provider_for: Build, messages, monkeypatch) -> None:
    provider = provider_for()
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    unreachable = SesProvider(SesSettings(region="us-east-1", max_send_rate=100, timeout=2.0), None)
    unreachable.open()  # the limits are unknown (warning), the sends say why per recipient
    try:
        [outcome] = unreachable.send(messages(1))
    finally:
        unreachable.close()
    assert (outcome.status, outcome.is_transient) == (Status.FAILED, True)
    assert (outcome.reason or "").startswith("not sent:")
    assert provider.send(messages(1))[0].status is Status.SENT


def test_the_pace_follows_the_send_rate(local_ses: LocalSes, provider_for: Build, messages) -> None:
    """The bucket hands out one call per 1/rate seconds: measured in tokens, not by a clock."""
    provider = provider_for(max_send_rate=2.0)
    bucket = provider._bucket
    assert bucket is not None and (bucket.rate, bucket.capacity) == (2.0, 1.0)


def test_the_provider_declares_that_ses_signs() -> None:
    assert SesProvider.signs_for_sender is True
    assert SesProvider.max_batch == 1
    assert SesProvider.is_configured(SesSettings(region="eu-west-1"))
    assert not SesProvider.is_configured(SesSettings())
