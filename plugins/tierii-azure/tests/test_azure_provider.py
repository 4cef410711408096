"""The provider against the local ACS: outcomes from final operation statuses, 429s handed
to the core with their Retry-After, failures that stay with their recipient."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest

from tierii_azure.provider import AzureProvider
from tierii_azure.testing import SECONDARY_KEY, LocalAcs, RateLimit
from tierii_core.errors import FatalProviderError
from tierii_core.models import Address, ErrorKind, Message, Status
from tierii_core.testing.messages import make_message

Build = Callable[..., AzureProvider]


def batch(count: int, prefix: str = "user") -> list[Message]:
    return [make_message(f"{prefix}{i}@example.com", name=f"User {i}") for i in range(count)]


def test_each_message_is_its_own_request_and_operation(provider_for: Build) -> None:
    with LocalAcs() as acs:
        provider = provider_for(acs)
        messages = batch(8)
        outcomes = provider.send(messages)
        assert [o.status for o in outcomes] == [Status.SENT] * 8
        assert acs.count("send", 202) == 8
        # the operation id is the provider's message id, and ACS's record of it
        assert {o.provider_message_id for o in outcomes} == {m.operation_id for m in acs.delivered}
        # done at the first poll: one status read per message
        assert acs.count("status", 200) == 8
        # and open()'s credential probe: an operation that cannot exist, 404 with a good key
        assert acs.count("status", 404) == 1


def test_a_failed_operation_fails_only_its_recipient(provider_for: Build) -> None:
    with LocalAcs() as acs:
        acs.faults.fail("user3@example.com")
        provider = provider_for(acs)
        outcomes = {o.email: o for o in provider.send(batch(6))}
        failed = outcomes.pop("user3@example.com")
        assert failed.status is Status.FAILED and failed.kind is ErrorKind.PERMANENT
        assert "EmailDropped" in (failed.reason or "") and "failed" in (failed.reason or "")
        assert {o.status for o in outcomes.values()} == {Status.SENT}
        assert sorted(m.recipient for m in acs.delivered) == sorted(outcomes)


def test_a_429_is_handed_back_with_its_retry_after_and_nothing_is_accepted(provider_for: Build) -> None:
    with LocalAcs() as acs:
        provider = provider_for(acs, concurrency=1)
        acs.faults.throttle(2, retry_after=7)
        outcomes = provider.send(batch(4))
        throttled = [o for o in outcomes if o.status is Status.FAILED]
        assert len(throttled) == 2
        assert all(o.kind is ErrorKind.TRANSIENT and o.retry_after == 7.0 for o in throttled)
        assert all("TooManyRequests" in (o.reason or "") for o in throttled)
        assert len(acs.accepted) == 2  # a 429 leaves nothing behind at ACS
        assert acs.count("send") == 4  # and the SDK did not repeat the send itself


def test_a_sliding_window_limit_answers_429_with_whole_seconds() -> None:
    with LocalAcs(limits={"send": RateLimit(2, window=30.0)}) as acs:
        from tierii_azure.settings import AzureSettings
        from tierii_azure.testing.fixtures import FAST_FIELDS
        from tierii_core.models import Credentials, Secret

        settings = AzureSettings(connection_string=Secret(acs.connection_string()), **FAST_FIELDS)
        with AzureProvider(settings, Credentials()) as provider:
            outcomes = provider.send(batch(3))
        assert sorted(o.status.value for o in outcomes) == ["failed", "sent", "sent"]
        [limited] = [o for o in outcomes if o.status is Status.FAILED]
        assert limited.retry_after is not None and 1 <= limited.retry_after <= 30
        assert limited.retry_after == int(limited.retry_after)


def test_an_operation_that_never_ends_is_unknown_after_the_poll_timeout(provider_for: Build) -> None:
    with LocalAcs() as acs:
        acs.faults.hang("user1@example.com")
        provider = provider_for(acs, poll_timeout=0.3)
        outcomes = {o.email: o for o in provider.send(batch(3))}
        stuck = outcomes["user1@example.com"]
        assert stuck.status is Status.UNKNOWN
        assert "still running after 0.3 s" in (stuck.reason or "")
        assert "TIERII_AZURE_POLL_TIMEOUT" in (stuck.reason or "")
        assert outcomes["user0@example.com"].status is Status.SENT


def test_a_400_fails_its_recipient_with_acs_error(provider_for: Build) -> None:
    bad = attrs.evolve(make_message("ok@example.com"), to=Address("no-at-sign"))
    with LocalAcs() as acs:
        provider = provider_for(acs)
        outcomes = provider.send([bad, make_message("ok@example.com")])
        assert outcomes[0].status is Status.FAILED and outcomes[0].kind is ErrorKind.PERMANENT
        assert (
            outcomes[0].reason
            == "refused: HTTP 400: BadRequest: Invalid recipient address: "
            + repr({"address": "no-at-sign"})
            + "."
        )
        assert outcomes[1].status is Status.SENT


def test_a_sender_domain_not_linked_stops_the_run_instead_of_failing_everyone(provider_for: Build) -> None:
    with LocalAcs(verified_domains={"mail.shop.example"}) as acs:
        provider = provider_for(acs)
        with pytest.raises(FatalProviderError) as raised:
            provider.send(batch(3))
        assert "DomainNotLinked" in str(raised.value)
        assert "TIERII_AZURE_SENDER" in str(raised.value)
        assert acs.accepted == []
        fixed = provider_for(acs, sender="DoNotReply@mail.shop.example")
        assert {o.status for o in fixed.send(batch(3))} == {Status.SENT}
        assert {m.sender for m in acs.delivered} == {"DoNotReply@mail.shop.example"}


def test_unsubscribe_headers_reply_to_and_names_reach_acs(provider_for: Build) -> None:
    message = attrs.evolve(
        make_message("ada@example.com", name="Ada Lovelace"),
        reply_to=Address("help@example.com", "Help Desk"),
        headers=(
            ("List-Unsubscribe", "<https://shop.example/u/abc>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ),
    )
    with LocalAcs() as acs:
        [outcome] = provider_for(acs).send([message])
        assert outcome.status is Status.SENT
        [got] = acs.delivered
        assert got.headers == {
            "List-Unsubscribe": "<https://shop.example/u/abc>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        assert got.reply_to == [{"address": "help@example.com", "displayName": "Help Desk"}]
        assert (got.recipient, got.recipient_name) == ("ada@example.com", "Ada Lovelace")
        assert (got.subject, got.text, got.html) == (message.subject, message.text, message.html)


def test_a_header_acs_cannot_carry_fails_its_message_before_any_request(provider_for: Build) -> None:
    twice = attrs.evolve(make_message("bob@example.com"), headers=(("X-Tag", "a"), ("x-tag", "b")))
    with LocalAcs() as acs:
        provider = provider_for(acs)
        sends_before = acs.count("send")
        [outcome] = provider.send([twice])
        assert outcome.status is Status.FAILED and outcome.kind is ErrorKind.PERMANENT
        assert "appears twice" in (outcome.reason or "")
        assert acs.count("send") == sends_before


def test_the_secondary_key_works_too(provider_for: Build) -> None:
    with LocalAcs() as acs:
        [outcome] = provider_for(acs, key=SECONDARY_KEY).send(batch(1))
        assert outcome.status is Status.SENT


def test_a_wrong_key_stops_at_open_before_any_send(provider_for: Build) -> None:
    with LocalAcs() as acs:
        with pytest.raises(FatalProviderError) as raised:
            provider_for(acs, key="d3Jvbmcta2V5")  # base64, but not this resource's key
        assert "HTTP 401: Denied" in str(raised.value)
        assert "TIERII_AZURE_CONNECTION_STRING" in str(raised.value)
        assert "d3Jvbmcta2V5" not in str(raised.value)
        assert acs.count("send") == 0


def test_a_key_revoked_mid_run_stops_the_run_and_nothing_counts_as_sent(provider_for: Build) -> None:
    with LocalAcs() as acs:
        provider = provider_for(acs)
        assert {o.status for o in provider.send(batch(2))} == {Status.SENT}
        acs.resource.keys = [SECONDARY_KEY]  # the primary key is regenerated in the portal
        with pytest.raises(FatalProviderError, match="HTTP 401"):
            provider.send(batch(3, prefix="later"))
        with pytest.raises(FatalProviderError):
            provider.send(batch(1, prefix="after"))
        assert sorted(m.recipient for m in acs.delivered) == ["user0@example.com", "user1@example.com"]


def test_close_ends_the_pollers_of_a_stopping_run(provider_for: Build) -> None:
    with LocalAcs() as acs:
        acs.faults.hang("user0@example.com")
        provider = provider_for(acs, poll_timeout=600.0)
        import threading

        results: list[object] = []
        worker = threading.Thread(target=lambda: results.append(provider.send(batch(1))))
        worker.start()
        assert acs.resource.journal.wait_for(3, timeout=10)  # probe, send, a first poll
        provider.close()
        worker.join(timeout=10)
        assert not worker.is_alive()
        [[outcome]] = results
        assert outcome.status is Status.UNKNOWN  # type: ignore[attr-defined]
        assert "stopped before its status was known" in outcome.reason  # type: ignore[attr-defined]


def test_a_lost_answer_is_looked_up_and_followed_to_its_final_status(provider_for: Build) -> None:
    with LocalAcs() as acs:
        acs.faults.lose("user1@example.com", accepted=True)
        provider = provider_for(acs)
        outcomes = {o.email: o for o in provider.send(batch(3))}
        recovered = outcomes["user1@example.com"]
        assert recovered.status is Status.SENT
        [operation] = [m for m in acs.accepted if m.recipient == "user1@example.com"]
        assert recovered.provider_message_id == operation.operation_id
        assert acs.count("send") == 3  # looked up, never sent again


def test_a_lost_request_that_acs_never_got_stays_unknown(provider_for: Build) -> None:
    with LocalAcs() as acs:
        acs.faults.lose("user0@example.com", accepted=False)
        provider = provider_for(acs)
        [outcome] = provider.send(batch(1))
        assert outcome.status is Status.UNKNOWN  # only --retry-unknown may send it again
        assert "ACS has no such operation: probably not sent" in (outcome.reason or "")
        assert outcome.provider_message_id is not None
        assert acs.accepted == []


def test_polls_are_paced_to_the_get_email_status_limits(provider_for: Build) -> None:
    with LocalAcs() as acs:
        acs.faults.hang("user0@example.com")
        # 3 status reads a minute: open()'s probe and two polls, then the poller waits its turn
        provider = provider_for(acs, status_per_minute=3, poll_timeout=0.5)
        [outcome] = provider.send(batch(1))
        assert outcome.status is Status.UNKNOWN
        provider.close()
        assert acs.count("status") <= 3  # unpaced, polls every 0.01 s would make dozens
        assert acs.count("status", 429) == 0


def test_the_local_acs_env_fixture_points_a_run_at_it(local_acs_env: LocalAcs) -> None:
    from tierii_azure.settings import AzureSettings
    from tierii_core.settings import SettingsReader

    settings = SettingsReader().load(AzureSettings, "azure")
    assert settings.connection_string.reveal() == local_acs_env.connection_string()
    with AzureProvider(settings, None) as provider:
        [outcome] = provider.send(batch(1))
    assert outcome.status is Status.SENT
    assert [m.recipient for m in local_acs_env.delivered] == ["user0@example.com"]
