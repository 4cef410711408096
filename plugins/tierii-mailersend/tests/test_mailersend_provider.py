"""The provider over the real SDK and real HTTP, against the local MailerSend."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import attrs
import pytest
import structlog

from tierii_core.errors import ConfigurationError, FatalProviderError
from tierii_core.models import Address, Credentials, ErrorKind, Message, Secret, Status
from tierii_mailersend.provider import MailerSendProvider
from tierii_mailersend.settings import MailerSendSettings
from tierii_mailersend.testing import LocalMailerSend, RateLimit, per_recipient

Factory = Callable[..., MailerSendProvider]
Messages = Callable[..., list[Message]]


def statuses(outcomes: list) -> list[Status]:
    return [o.status for o in outcomes]


# -- bulk and single --------------------------------------------------------------------------


def test_a_batch_is_one_bulk_request_with_one_personal_email_each(
    local_mailersend: LocalMailerSend, provider_for: Factory, messages: Messages
) -> None:
    provider = provider_for(local_mailersend)
    batch = messages(500)
    outcomes = provider.send(batch)
    assert statuses(outcomes) == [Status.SENT] * 500
    assert local_mailersend.count("bulk-email") == 1
    assert local_mailersend.count("email") == 0
    by_recipient = {m.recipient: m for m in local_mailersend.messages}
    assert set(per_recipient(local_mailersend.messages).values()) == {1}
    for message, outcome in zip(batch, outcomes, strict=True):
        got = by_recipient[message.to.email]
        assert (got.subject, got.text, got.html) == (message.subject, message.text, message.html)
        assert got.recipient_name == message.to.name
        assert outcome.provider_message_id == got.message_id


def test_a_single_message_goes_through_v1_email_and_keeps_its_message_id(
    local_mailersend: LocalMailerSend, provider_for: Factory, make_message: Callable[..., Message]
) -> None:
    (outcome,) = provider_for(local_mailersend).send([make_message(1)])
    (sent,) = local_mailersend.messages
    assert (outcome.status, outcome.provider_message_id) == (Status.SENT, sent.message_id)
    assert (local_mailersend.count("email"), local_mailersend.count("bulk-email")) == (1, 0)


def test_bulk_size_1_sends_each_message_through_v1_email(
    local_mailersend: LocalMailerSend, provider_for: Factory, messages: Messages
) -> None:
    provider = provider_for(local_mailersend, bulk_size=1)
    for message in messages(3):
        assert statuses(provider.send([message])) == [Status.SENT]
    assert (local_mailersend.count("email"), local_mailersend.count("bulk-email")) == (3, 0)


def test_headers_and_reply_to_reach_the_api(
    local_mailersend: LocalMailerSend, provider_for: Factory, make_message: Callable[..., Message]
) -> None:
    headers = (
        ("List-Unsubscribe", "<https://example.com/u/abc>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    )
    batch = [make_message(i, headers=headers, reply_to=Address("help@example.com", "Help")) for i in range(2)]
    provider_for(local_mailersend).send(batch)
    for got in local_mailersend.messages:
        # MailerSend's documented way: list_unsubscribe (it adds List-Unsubscribe-Post itself);
        # a List-Unsubscribe in `headers` cannot replace MailerSend's own
        assert got.list_unsubscribe == "https://example.com/u/abc"
        assert got.header("List-Unsubscribe") is None and got.header("List-Unsubscribe-Post") is None
        assert got.reply_to == "help@example.com"


def test_a_text_only_message_is_sent_without_html(
    local_mailersend: LocalMailerSend, provider_for: Factory, make_message: Callable[..., Message]
) -> None:
    provider_for(local_mailersend).send([make_message(0, html=None)])
    assert local_mailersend.messages[0].html is None


# -- per-recipient failures ----------------------------------------------------------------------


def test_a_validation_error_fails_only_the_recipient_it_names(
    provider_for: Factory, messages: Messages
) -> None:
    with LocalMailerSend(verified_domains=["example.com"], bulk_delay=0.01) as api:
        batch = messages(5)
        batch[2] = attrs.evolve(batch[2], sender=Address("shop@unverified.example"))
        outcomes = provider_for(api).send(batch)
    assert statuses(outcomes) == [Status.SENT, Status.SENT, Status.FAILED, Status.SENT, Status.SENT]
    assert outcomes[2].kind is ErrorKind.PERMANENT
    assert "#MS42207" in outcomes[2].reason
    assert sorted(m.recipient for m in api.messages) == sorted(
        m.to.email for i, m in enumerate(batch) if i != 2
    )


def test_a_message_the_sdk_refuses_is_failed_without_holding_up_the_others(
    local_mailersend: LocalMailerSend, provider_for: Factory, make_message: Callable[..., Message]
) -> None:
    batch = [make_message(0), make_message(1, subject="x" * 999), make_message(2)]
    outcomes = provider_for(local_mailersend).send(batch)
    assert statuses(outcomes) == [Status.SENT, Status.FAILED, Status.SENT]
    assert outcomes[1].kind is ErrorKind.PERMANENT
    assert "998" in outcomes[1].reason
    assert len(local_mailersend.messages) == 2


def test_suppressed_recipients_fail_with_mailersends_reasons(
    local_mailersend: LocalMailerSend, provider_for: Factory, messages: Messages
) -> None:
    local_mailersend.suppress("user1@example.com", "hard_bounced")
    local_mailersend.suppress("user4@example.com", "unsubscribed")
    provider = provider_for(local_mailersend)
    bulk = provider.send(messages(3))
    assert statuses(bulk) == [Status.SENT, Status.FAILED, Status.SENT]
    assert bulk[1].reason == "suppressed by MailerSend (hard_bounced)"
    (single,) = provider.send(messages(1, start=4))
    assert (single.status, single.reason) == (Status.FAILED, "suppressed by MailerSend (unsubscribed)")


# -- retries belong to TierII ----------------------------------------------------------------------


def test_a_429_is_transient_with_retry_after_and_is_not_retried_by_the_sdk(
    local_mailersend: LocalMailerSend, provider_for: Factory, messages: Messages
) -> None:
    local_mailersend.faults.fail(429, endpoint="bulk-email", retry_after=7)
    outcomes = provider_for(local_mailersend).send(messages(3))
    assert {(o.kind, o.retry_after) for o in outcomes} == {(ErrorKind.TRANSIENT, 7.0)}
    assert local_mailersend.count("bulk-email") == 1
    assert local_mailersend.messages == []


def test_a_real_per_minute_limit_surfaces_as_transient(provider_for: Factory, messages: Messages) -> None:
    with LocalMailerSend(limits={"bulk-email": RateLimit(1, window=60)}, bulk_delay=0.01) as api:
        provider = provider_for(api)
        assert statuses(provider.send(messages(2))) == [Status.SENT] * 2
        refused = provider.send(messages(2, start=2))
    assert [o.kind for o in refused] == [ErrorKind.TRANSIENT] * 2
    assert all(0 < o.retry_after <= 60 for o in refused)
    assert "rate limit" in refused[0].reason


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient_and_made_once(
    local_mailersend: LocalMailerSend, provider_for: Factory, messages: Messages, status: int
) -> None:
    local_mailersend.faults.fail(status, endpoint="bulk-email")
    outcomes = provider_for(local_mailersend).send(messages(2))
    assert [o.kind for o in outcomes] == [ErrorKind.TRANSIENT] * 2
    assert local_mailersend.count("bulk-email") == 1  # urllib3's retries are off


def test_a_gateway_timeout_is_unknown(
    local_mailersend: LocalMailerSend, provider_for: Factory, messages: Messages
) -> None:
    local_mailersend.faults.fail(504, endpoint="email")
    (outcome,) = provider_for(local_mailersend).send(messages(1))
    assert outcome.status is Status.UNKNOWN


@pytest.mark.parametrize("endpoint", ["email", "bulk-email"])
def test_a_read_timeout_after_sending_is_unknown_and_never_resent(
    local_mailersend: LocalMailerSend, provider_for: Factory, messages: Messages, endpoint: str
) -> None:
    provider = provider_for(local_mailersend, timeout=0.2)
    local_mailersend.faults.slow(5.0, endpoint=endpoint)
    batch = messages(1 if endpoint == "email" else 3)
    outcomes = provider.send(batch)
    assert statuses(outcomes) == [Status.UNKNOWN] * len(batch)
    assert "may have accepted" in outcomes[0].reason
    assert local_mailersend.count(endpoint) == 1
    assert local_mailersend.wait_for_requests(2)  # the api-quota of open() and this one
    local_mailersend.account.bulk_delay = 0.0
    assert len(local_mailersend.messages) == len(batch)  # MailerSend did accept them


def test_a_connection_dropped_after_the_body_was_read_is_unknown(
    local_mailersend: LocalMailerSend, provider_for: Factory, messages: Messages
) -> None:
    provider = provider_for(local_mailersend)
    local_mailersend.faults.drop(endpoint="bulk-email")
    outcomes = provider.send(messages(2))
    assert statuses(outcomes) == [Status.UNKNOWN] * 2
    assert local_mailersend.count("bulk-email") == 1


def test_an_unreachable_api_is_transient_not_sent(provider_for: Factory, messages: Messages) -> None:
    with LocalMailerSend() as api:
        provider = provider_for(api)
    # the server is gone: connection refused before any byte was sent
    outcomes = provider.send(messages(2))
    assert [o.kind for o in outcomes] == [ErrorKind.TRANSIENT] * 2
    assert "not sent" in outcomes[0].reason


def test_tests_never_reach_the_real_api(network_guard, messages: Messages) -> None:
    settings = MailerSendSettings(api_token=Secret("t"))
    assert settings.base_url == "https://api.mailersend.com/v1/"
    provider = MailerSendProvider(settings, Credentials(secret=settings.api_token))
    provider.open()
    try:
        outcomes = provider.send(messages(1))
    finally:
        provider.close()
    assert outcomes[0].kind is ErrorKind.TRANSIENT
    assert set(network_guard.refused) == {"api.mailersend.com"}


# -- fatal -----------------------------------------------------------------------------------


def test_a_wrong_token_stops_at_open_before_anything_is_sent(
    local_mailersend: LocalMailerSend, provider_for: Factory
) -> None:
    with pytest.raises(FatalProviderError, match="TIERII_MAILERSEND_API_TOKEN"):
        provider_for(local_mailersend, token="mlsn.wrong")
    assert local_mailersend.count("bulk-email") == local_mailersend.count("email") == 0


def test_a_token_revoked_mid_run_stops_the_next_send(
    local_mailersend: LocalMailerSend, provider_for: Factory, messages: Messages
) -> None:
    provider = provider_for(local_mailersend)
    assert statuses(provider.send(messages(2))) == [Status.SENT] * 2
    local_mailersend.account.tokens.clear()
    with pytest.raises(FatalProviderError, match="401"):
        provider.send(messages(2, start=2))
    assert len(local_mailersend.messages) == 2


def test_no_token_is_a_configuration_error(local_mailersend: LocalMailerSend) -> None:
    provider = MailerSendProvider(MailerSendSettings(base_url=local_mailersend.base_url), None)
    with pytest.raises(ConfigurationError, match="TIERII_MAILERSEND_API_TOKEN"):
        provider.open()


def test_the_last_request_of_the_daily_quota_stops_the_next_send(
    provider_for: Factory, messages: Messages
) -> None:
    with LocalMailerSend(daily_quota=2) as api:
        provider = provider_for(api, bulk_size=1)
        assert provider.max_per_day == 2  # learnt from GET /v1/api-quota
        for message in messages(2):
            assert statuses(provider.send([message])) == [Status.SENT]
        with pytest.raises(FatalProviderError, match="daily API quota is used up"):
            provider.send(messages(1, start=2))
        assert api.count("email") == 2  # stopped before making a request bound to fail
        with pytest.raises(FatalProviderError, match="daily API quota is used up"):
            provider_for(api)  # and a new run stops at once


def test_a_quota_429_while_polling_leaves_the_batch_unknown_and_stops(
    provider_for: Factory, messages: Messages
) -> None:
    with LocalMailerSend(daily_quota=1, bulk_delay=0.0) as api:
        provider = provider_for(api)
        # the bulk request is the one request left; its status poll gets the quota's 429
        outcomes = provider.send(messages(2))
        assert statuses(outcomes) == [Status.UNKNOWN] * 2
        with pytest.raises(FatalProviderError, match="daily API quota"):
            provider.send(messages(1, start=2))
        assert api.count("bulk-email") == 1


# -- bulk polling ----------------------------------------------------------------------------------


def test_polling_rides_out_errors_on_the_status_endpoint(
    local_mailersend: LocalMailerSend, provider_for: Factory, messages: Messages
) -> None:
    local_mailersend.faults.fail(500, times=2, endpoint="bulk-status")
    local_mailersend.faults.fail(429, endpoint="bulk-status", retry_after=0.01)
    outcomes = provider_for(local_mailersend).send(messages(2))
    assert statuses(outcomes) == [Status.SENT] * 2
    assert local_mailersend.count("bulk-status") >= 4


def test_a_bulk_job_that_never_completes_in_time_is_unknown(
    provider_for: Factory, messages: Messages
) -> None:
    with LocalMailerSend(bulk_delay=3600) as api:
        outcomes = provider_for(api, poll_timeout=0.1).send(messages(2))
    assert statuses(outcomes) == [Status.UNKNOWN] * 2
    assert "still queued" in outcomes[0].reason


# -- concurrency -------------------------------------------------------------------------------------


def test_several_workers_send_at_once(
    local_mailersend: LocalMailerSend, provider_for: Factory, messages: Messages
) -> None:
    provider = provider_for(local_mailersend)
    results: dict[int, list] = {}
    barrier = threading.Barrier(4)

    def work(n: int) -> None:
        barrier.wait()
        results[n] = provider.send(messages(50, start=n * 50))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(statuses(r) == [Status.SENT] * 50 for r in results.values())
    counts = per_recipient(local_mailersend.messages)
    assert len(counts) == 200 and set(counts.values()) == {1}


# -- tierii check ------------------------------------------------------------------------------------


def test_check_shows_the_remaining_quota() -> None:
    with LocalMailerSend(daily_quota=100_000) as api:
        secret = Secret(api.token)
        provider = MailerSendProvider(
            MailerSendSettings(api_token=secret, base_url=api.base_url), Credentials(secret=secret)
        )
        steps = {s.step: s for s in provider.check()}
    assert all(s.ok for s in steps.values())
    assert "100000 requests a day, 100000 left" in steps["api quota"].detail
    assert "TierII's one-click link" in steps["unsubscribe header"].detail
    assert api.token not in repr(steps)


@pytest.mark.parametrize(("token", "words"), [("mlsn.wrong", "401"), ("", "not set")])
def test_check_fails_clearly_on_a_bad_token(
    local_mailersend: LocalMailerSend, token: str, words: str
) -> None:
    secret = Secret(token)
    provider = MailerSendProvider(
        MailerSendSettings(api_token=secret, base_url=local_mailersend.base_url), Credentials(secret=secret)
    )
    failed = [s for s in provider.check() if not s.ok]
    assert len(failed) == 1 and words in failed[0].detail


# -- secrets -----------------------------------------------------------------------------------------


def test_the_token_never_reaches_logs_or_outcomes(
    provider_for: Factory, messages: Messages, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture
) -> None:
    token = "mlsn.5f2e7c1d9a-never-print-me"
    caplog.set_level(logging.DEBUG)
    logging.getLogger("mailersend").setLevel(logging.DEBUG)
    with LocalMailerSend(token=token, bulk_delay=0.01) as api, structlog.testing.capture_logs() as events:
        provider = provider_for(api, timeout=0.2)
        api.faults.fail(429, endpoint="bulk-email", retry_after=1)
        api.faults.slow(5.0, endpoint="email")
        outcomes = provider.send(messages(3)) + provider.send(messages(1)) + provider.send(messages(2))
        outcomes += [*provider.check()]
        api.account.tokens.clear()
        with pytest.raises(FatalProviderError) as caught:
            provider.send(messages(2))
    captured = capsys.readouterr()
    everything = "\n".join(
        [repr(outcomes), repr(events), caplog.text, captured.out, captured.err, str(caught.value)]
    )
    assert events  # something was logged: the check below is not vacuous
    assert token not in everything
    assert token.split(".", 1)[1] not in everything
