"""A provider that adds its own one-click List-Unsubscribe header (MailerSend without a
Professional plan) declares it, and the core's gate knows the header that goes out is the
provider's: the one-click-unsubscribe rule accepts the message, the other rules do not change."""

from __future__ import annotations

from pathlib import Path

import pytest

from tierii_core import hookimpl
from tierii_core.components import ContactSource, DeliveryProvider
from tierii_core.errors import ConfigurationError
from tierii_core.models import Contact, Outcome
from tierii_core.plugins import make_plugin_manager
from tierii_core.runner import Campaign, SendOptions
from tierii_core.settings import SettingsReader


class TwoContacts(ContactSource):
    name = "two"
    patterns = ("two:*",)

    def __iter__(self):
        yield Contact("a@example.com", {"name": "A"}, "two:1")
        yield Contact("b@example.com", {"name": "B"}, "two:2")


class OwnHeader(DeliveryProvider):
    """Adds its own one-click header to every message."""

    name = "ownheader"
    signs_for_sender = True  # the sender-authentication rule is not what these tests are about
    max_batch = 10
    adds_list_unsubscribe = True

    def send(self, messages):
        return [Outcome.sent(m, self.name) for m in messages]


class Plain(OwnHeader):
    """Sends the message's headers as they are."""

    name = "plain"
    adds_list_unsubscribe = False


class Components:
    @hookimpl
    def tierii_contact_sources(self):
        return [TwoContacts]

    @hookimpl
    def tierii_delivery_providers(self):
        return [OwnHeader, Plain]


def prepared(tmp_path: Path, providers: str, body: str) -> Campaign:
    template = tmp_path / "t.mustache"
    template.write_text(f"Subject: Hi {{{{name}}}}\nFrom: shop@example.com\n\nAdvertisement\n{body}")
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(Components())
    settings = {
        "TIERII_PROVIDER": providers,
        "TIERII_STATE_DIR": str(tmp_path / "state"),
        "TIERII_SENDER_ADDRESS": "The Shop, 1 Main Street, Springfield",
    }
    campaign = Campaign(pm, SettingsReader(settings), SendOptions("two:x", template, dry_run=True))
    campaign.prepare()
    return campaign


@pytest.mark.parametrize(
    ("providers", "refusing"),
    [
        ("ownheader", "unsubscribe-link"),  # one-click holds: the header is the provider's
        ("plain", "one-click-unsubscribe"),
        ("ownheader,plain", "one-click-unsubscribe"),  # the fallback would send without one
    ],
)
def test_the_gate_knows_when_the_one_click_header_is_the_providers(
    tmp_path: Path, providers: str, refusing: str
) -> None:
    # no TIERII_UNSUBSCRIBE_URL: TierII has no header of its own to add
    with pytest.raises(ConfigurationError, match=f"rule {refusing} refuses"):
        prepared(tmp_path, providers, "Hello {{name}}\n{{sender_address}}\n")


def test_the_rules_are_told_once_the_providers_are_chosen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERII_UNSUBSCRIBE_URL", "https://shop.example/unsubscribe")
    monkeypatch.setenv("TIERII_UNSUBSCRIBE_SECRET", "a-long-enough-secret-for-signing-links")
    body = "Hello {{name}}\n{{sender_address}}\nUnsubscribe: {{unsubscribe_url}}\n"
    own, plain = prepared(tmp_path, "ownheader", body), prepared(tmp_path, "plain", body)
    assert "one-click-unsubscribe" in [rule.name for rule in own.rules]
    assert [rule.provider_adds_list_unsubscribe for rule in own.rules] == [True] * len(own.rules)
    assert [rule.provider_adds_list_unsubscribe for rule in plain.rules] == [False] * len(plain.rules)
