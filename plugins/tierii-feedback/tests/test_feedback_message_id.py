"""A report that returns our Message-ID counts for that message's campaign and recipient, even
when the address got several campaigns; VERP, then the address, only when no Message-ID matches."""

from __future__ import annotations

import json
import mailbox
from pathlib import Path

import pytest
from feedback_helpers import ADDRESSES, suppressions, tierii
from feedback_mailset import render
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierii_core.feedback_store import COMPLAINT, HARD, FeedbackStore
from tierii_core.journal import SqliteJournal, check_state_dir
from tierii_core.models import Outcome, Status
from tierii_feedback.processor import UNREADABLE, Processor
from tierii_feedback.reports import NOT_A_REPORT, message_ids_in
from tierii_feedback.settings import FeedbackSettings

OLDER, NEWER = "restock", "autumn"
RETURN_PATH = "bounces@shop.example"


NOBODY = "arf naming nobody"


def shape(name: str, recipient: str, n: int, message_id: str = "") -> bytes:
    """A corpus shape; NOBODY: the redacted complaint without even the returned To:."""
    if name != NOBODY:
        return render(name, recipient, n, message_id=message_id)
    return render("arf-redacted-yahoo.eml", recipient, n, message_id=message_id).replace(
        b"To: redacted@yahoo.example\n", b""
    )


def sent_ids(outbox: Path) -> dict[str, str]:
    """recipient -> the Message-ID of the message the outbox received for them (what went out)."""
    return {
        str(m["To"]).rpartition("<")[2].strip(">").lower(): str(m["Message-ID"])
        for m in mailbox.Maildir(str(outbox), create=False)
    }


@pytest.fixture
def two_campaigns(campaign: Path, tmp_path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """ADDRESSES got OLDER (the ``campaign`` fixture) and then NEWER: their Message-IDs."""
    result = tierii("send", "contacts.csv", "-t", "t.mustache", "--campaign", NEWER, "--outbox", "outbox-2")
    assert result.exit_code == 0, result.output
    older, newer = sent_ids(tmp_path / "outbox"), sent_ids(campaign / "outbox-2")
    assert set(older) == set(newer) == set(ADDRESSES)
    assert not set(older.values()) & set(newer.values())
    return older, newer


def process(tmp_path: Path, *messages: bytes) -> None:
    box = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    for raw in messages:
        box.add(raw)
    result = tierii("feedback", "process", "--maildir", str(tmp_path / "Maildir"))
    assert result.exit_code == 0, result.output


def events(state: Path) -> list[tuple[str, str, str]]:
    store = FeedbackStore(state, read_only=True)
    try:
        return [(campaign, email, kind) for campaign, email, kind, _ in store.events()]
    finally:
        store.close()


def feedback_of(name: str) -> dict:
    result = tierii("status", name, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["feedback"]


def bare(message_id: str) -> str:
    return message_id.strip("<>")  # the corpus shapes put the brackets around it


def test_a_dsn_and_an_arf_about_the_older_campaign_count_for_it(two_campaigns, tmp_path: Path) -> None:
    older, _ = two_campaigns
    ana, ben = ADDRESSES[0], ADDRESSES[1]
    process(
        tmp_path,
        render("gmail-5.1.1.eml", ana, 1, message_id=bare(older[ana])),
        render("arf-rfc5965.eml", ben, 2, message_id=bare(older[ben])),
    )
    # the address match alone would say NEWER: the latest campaign each address was sent in
    assert sorted(events(tmp_path / "state")) == [(OLDER, ana, HARD), (OLDER, ben, COMPLAINT)]
    assert (feedback_of(OLDER)["hard_bounces"], feedback_of(OLDER)["complaints"]) == (1, 1)
    assert feedback_of(OLDER)["delivered"] == len(ADDRESSES) - 1
    assert (feedback_of(NEWER)["hard_bounces"], feedback_of(NEWER)["complaints"]) == (0, 0)


def test_a_report_on_the_newer_campaign_still_counts_for_the_newer(two_campaigns, tmp_path: Path) -> None:
    _, newer = two_campaigns
    cara = ADDRESSES[2]
    process(tmp_path, render("office365-5.1.10.eml", cara, 3, message_id=bare(newer[cara])))
    assert events(tmp_path / "state") == [(NEWER, cara, HARD)]


def test_without_a_known_message_id_the_latest_campaign_of_the_address_counts(
    two_campaigns, tmp_path: Path
) -> None:
    dev = ADDRESSES[3]
    process(tmp_path, render("gmail-5.1.1.eml", dev, 4, message_id="not-ours.1@elsewhere.example"))
    assert events(tmp_path / "state") == [(NEWER, dev, HARD)]


def test_the_message_id_names_the_recipient_a_redacted_complaint_hides(two_campaigns, tmp_path: Path) -> None:
    """Yahoo redacts the address (and here no unsubscribe token is returned): the returned
    Message-ID still names who complained, and no made-up address is suppressed."""
    older, _ = two_campaigns
    eli = ADDRESSES[4]
    process(tmp_path, render("arf-redacted-yahoo.eml", eli, 5, message_id=bare(older[eli])))
    assert events(tmp_path / "state") == [(OLDER, eli, COMPLAINT)]
    found = suppressions(tmp_path / "state")
    assert found[eli].startswith("complaint") and "redacted@yahoo.example" not in found


def test_a_bounce_from_where_our_message_was_forwarded_suppresses_our_recipient(
    two_campaigns, tmp_path: Path
) -> None:
    older, _ = two_campaigns
    fay = ADDRESSES[5]
    forwarded = render("gmail-5.1.1.eml", "fay.old@forward.example", 6, message_id=bare(older[fay]))
    process(tmp_path, forwarded)
    assert events(tmp_path / "state") == [(OLDER, fay, HARD)]
    found = suppressions(tmp_path / "state")
    assert "(reported for fay.old@forward.example)" in found[fay] and "fay.old@forward.example" not in found


def test_verp_names_the_recipient_when_no_message_id_matches(tmp_path: Path) -> None:
    raw = render("gmail-5.1.1.eml", "gus.old@forward.example", 7, message_id="x.1@elsewhere.example")
    raw = raw.replace(b"To: bounces@shop.example", b"To: bounces+gus=example.org@shop.example", 1)
    processor = Processor(tmp_path / "state", FeedbackSettings(), return_path=RETURN_PATH)
    try:
        handled = processor.handle(raw, "verp")
    finally:
        processor.close()
    assert [(e.email, e.kind, e.campaign) for e in handled.events] == [("gus@example.org", HARD, "")]


def test_a_message_in_flight_when_a_run_stopped_counts_for_no_campaign(tmp_path: Path) -> None:
    """The journal says unknown, not sent: counting the bounce would put a hard bounce over
    a `sent` that lacks it; the address match must not pick another campaign either."""
    state = tmp_path / "state"
    journal = SqliteJournal(check_state_dir(state))
    for name in (OLDER, NEWER):
        journal.open_campaign(name, "contacts.csv", "t.mustache", ["outbox"])
    journal.claim(
        OLDER, [("hal@example.com", "contacts.csv:2")], message_ids={"hal@example.com": "<1.a.0@s.example>"}
    )
    journal.claim(
        NEWER, [("hal@example.com", "contacts.csv:2")], message_ids={"hal@example.com": "<2.b.0@s.example>"}
    )
    journal.record(
        NEWER, [("hal@example.com", "contacts.csv:2", Outcome("hal@example.com", Status.SENT, "outbox"))]
    )
    journal.close()  # OLDER's claim is left in flight: unknown
    processor = Processor(state, FeedbackSettings())
    try:
        older = processor.handle(
            render("gmail-5.1.1.eml", "hal@example.com", 8, message_id="1.a.0@s.example"), "a"
        )
        newer = processor.handle(
            render("gmail-5.1.1.eml", "hal@example.com", 9, message_id="2.b.0@S.EXAMPLE"), "b"
        )
    finally:
        processor.close()
    assert [(e.email, e.campaign) for e in older.events] == [("hal@example.com", "")]
    assert [(e.email, e.campaign) for e in newer.events] == [("hal@example.com", NEWER)]  # case-insensitive


def test_a_complaint_naming_nobody_is_read_by_its_message_id_alone(two_campaigns, tmp_path: Path) -> None:
    older, _ = two_campaigns
    ivy = ADDRESSES[8]
    processor = Processor(tmp_path / "state", FeedbackSettings())
    try:
        ours = processor.handle(shape(NOBODY, ivy, 10, message_id=bare(older[ivy])), "ours")
        unknown = processor.handle(shape(NOBODY, ivy, 11, message_id="x.2@elsewhere.example"), "unknown")
    finally:
        processor.close()
    assert [(e.email, e.kind, e.campaign) for e in ours.events] == [(ivy, COMPLAINT, OLDER)]
    assert unknown.kind == UNREADABLE and "naming no recipient" in unknown.error


# -- garbage in the Message-ID headers --------------------------------------------------------

SHAPES = ["gmail-5.1.1.eml", "office365-5.1.10.eml", "arf-rfc5965.eml", "arf-redacted-yahoo.eml", NOBODY]
HEADER_TEXT = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
    st.lists(
        st.sampled_from(["<", ">", "@", " ", "\t", "\r\n ", "=?utf-8?b?", "?=", "a", "\udc80", "é"])
    ).map("".join),
)


@pytest.fixture(scope="module")
def journal_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    state = tmp_path_factory.mktemp("garbage") / "state"
    journal = SqliteJournal(check_state_dir(state))
    journal.open_campaign(OLDER, "contacts.csv", "t.mustache", ["outbox"])
    journal.claim(
        OLDER, [("ana@example.com", "contacts.csv:2")], message_ids={"ana@example.com": "<1.a.0@s.example>"}
    )
    journal.close()
    return state


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.sampled_from(SHAPES), HEADER_TEXT, HEADER_TEXT)
def test_garbage_message_id_headers_never_crash(
    journal_state: Path, name: str, returned: str, reply: str
) -> None:
    raw = shape(name, "ana@example.com", 1).decode("utf-8")
    raw = raw.replace("Message-ID: <1234.abcdef.1@shop.example>", f"Message-ID: {returned}")
    raw = raw.replace("In-Reply-To: <1234.abcdef.1@shop.example>", f"In-Reply-To: {reply}")
    processor = Processor(journal_state, FeedbackSettings())
    try:
        handled = processor.handle(raw.encode("utf-8", "surrogateescape"), "garbage")
    finally:
        processor.close()
    assert handled.kind != NOT_A_REPORT or not handled.events
    assert handled.kind != UNREADABLE or handled.error
    assert all("@" in e.email for e in handled.events)


@given(HEADER_TEXT)
def test_message_ids_are_printable_ascii_in_brackets(value: str) -> None:
    for found in message_ids_in(value):
        assert found.startswith("<") and found.endswith(">") and "@" in found
        assert all("!" <= c <= "~" for c in found)
