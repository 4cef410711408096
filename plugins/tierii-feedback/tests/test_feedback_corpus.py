"""The real-world corpus (flufl.bounce's test data: see corpus/README.md): hard bounces are
recognised (>= 90%, measured and printed), and one message never suppresses an address that
only bounced softly."""

from __future__ import annotations

from pathlib import Path

import pytest

from tierii_core.feedback_store import HARD, SOFT
from tierii_feedback.processor import Processor
from tierii_feedback.reports import classify
from tierii_feedback.settings import FeedbackSettings

FLUFL = Path(__file__).parent / "corpus" / "flufl-bounce"

#: (file, the addresses that bounced, HARD or SOFT): flufl.bounce's own expectations
CORPUS = [
    ("postfix_01.txt", ("xxxxx@local.ie",), HARD),
    ("postfix_02.txt", ("yyyyy@digicool.com",), HARD),
    ("postfix_03.txt", ("ttttt@ggggg.com",), HARD),
    ("postfix_04.txt", ("userx@mail1.example.com",), HARD),
    ("postfix_05.txt", ("userx@example.net",), HARD),
    ("exim_01.txt", ("userx@its.example.nl",), HARD),
    ("sendmail_01.txt", ("zzzzz@shaft.coal.nl", "zzzzz@nfg.nl"), HARD),
    ("simple_01.txt", ("bbbsss@example.com",), HARD),
    ("simple_02.txt", ("userx@example.net",), HARD),
    ("simple_04.txt", ("userx@example.com",), HARD),
    ("newmailru_01.txt", ("zzzzz@newmail.ru",), HARD),
    ("hotpop_01.txt", ("userx@example.com",), HARD),
    ("microsoft_03.txt", ("userx@example.com",), HARD),
    ("simple_05.txt", ("userx@example.net",), HARD),
    ("simple_06.txt", ("userx@example.com",), HARD),
    ("simple_07.txt", ("userx@example.net",), HARD),
    ("simple_08.txt", ("userx@example.de",), HARD),
    ("simple_09.txt", ("userx@example.de",), HARD),
    ("simple_10.txt", ("userx@example.com",), HARD),
    ("simple_11.txt", ("userx@example.com",), HARD),
    ("simple_12.txt", ("userx@example.ac.jp",), HARD),
    ("simple_13.txt", ("userx@example.fr",), HARD),
    ("simple_14.txt", ("userx@example.com", "usery@example.com"), HARD),
    ("simple_15.txt", ("userx@example.be",), HARD),
    ("simple_16.txt", ("userx@example.com",), HARD),
    ("simple_17.txt", ("userx@example.com",), HARD),
    ("simple_18.txt", ("userx@example.com",), HARD),
    ("simple_19.txt", ("userx@example.com.ar",), HARD),
    ("simple_20.txt", ("userx@example.com",), HARD),
    ("simple_23.txt", ("userx@example.it",), HARD),
    ("simple_24.txt", ("userx@example.com",), HARD),
    ("simple_25.txt", ("userx@example.com",), HARD),
    ("simple_26.txt", ("userx@example.it",), HARD),
    ("simple_27.txt", ("userx@example.net.py",), HARD),
    ("simple_29.txt", ("userx@example.com",), HARD),
    ("simple_30.txt", ("userx@example.com",), HARD),
    ("simple_31.txt", ("userx@example.fr",), HARD),
    ("simple_32.txt", ("userx@example.com",), HARD),
    ("simple_33.txt", ("userx@example.com",), HARD),
    ("simple_34.txt", ("roland@example.com",), HARD),
    ("simple_36.txt", ("userx@example.com",), HARD),
    ("simple_37.txt", ("user@example.edu",), HARD),
    ("simple_38.txt", ("userx@example.com",), HARD),
    ("simple_39.txt", ("userx@example.ru",), HARD),
    ("simple_41.txt", ("userx@example.com",), HARD),
    ("simple_44.txt", ("user@example.com",), HARD),
    ("simple_45.txt", ("subscriber@earthlink.net",), HARD),
    ("bounce_02.txt", ("userx@example.com",), HARD),
    ("bounce_03.txt", ("userx@example.uk",), HARD),
    ("yahoo_12.txt", ("user@yahoo.com",), HARD),
    ("simple_03.txt", ("userx@example.za",), SOFT),
    ("simple_21.txt", ("userx@example.com",), SOFT),
    ("simple_22.txt", ("user@example.org",), SOFT),
    ("simple_28.txt", ("userx@example.com",), SOFT),
    ("simple_35.txt", ("calvin@example.com",), SOFT),
    ("simple_40.txt", ("user@example.com",), SOFT),
    ("groupwise_01.txt", ("userx@example.edu",), HARD),
    ("groupwise_02.txt", ("userx@example.com",), HARD),
    ("yale_01.txt", ("userx@cs.yale.edu", "userx@yale.edu"), HARD),
    ("dsn_01.txt", ("userx@example.com",), HARD),
    ("dsn_02.txt", ("zzzzz@example.uk",), HARD),
    ("dsn_03.txt", ("userx@example.be",), HARD),
    ("dsn_04.txt", ("userx@example.ch",), HARD),
    ("dsn_05.txt", ("userx@example.cz",), SOFT),
    ("dsn_06.txt", ("userx@example.com",), SOFT),
    ("dsn_07.txt", ("userx@example.nz",), SOFT),
    ("dsn_08.txt", ("userx@example.de",), SOFT),
    ("dsn_09.txt", ("userx@example.com",), HARD),
    ("dsn_10.txt", ("anne.person@dom.ain",), HARD),
    ("dsn_11.txt", ("joem@example.com",), HARD),
    ("dsn_12.txt", ("userx@example.jp",), HARD),
    ("dsn_13.txt", ("userx@example.com",), HARD),
    ("dsn_14.txt", ("userx@example.com.dk",), HARD),
    ("dsn_15.txt", ("userx@example.com",), HARD),
    ("dsn_16.txt", ("userx@example.com",), HARD),
    ("dsn_17.txt", ("userx@example.fi",), SOFT),
    ("dsn_18.txt", ("email@replaced.net",), HARD),
    ("microsoft_01.txt", ("userx@example.com",), HARD),
    ("microsoft_02.txt", ("userx@example.com",), HARD),
    ("microsoft_04.txt", ("userx@example.com",), HARD),
    ("smtp32_01.txt", ("userx@example.ph",), HARD),
    ("smtp32_02.txt", ("userx@example.com",), HARD),
    ("smtp32_03.txt", ("userx@example.com",), HARD),
    ("smtp32_04.txt", ("after_another@example.net", "one_bad_address@example.net"), HARD),
    ("smtp32_05.txt", ("userx@example.com",), HARD),
    ("smtp32_06.txt", ("absolute_garbage_addr@example.net",), HARD),
    ("smtp32_07.txt", ("userx@example.com",), HARD),
    ("qmail_01.txt", ("userx@example.de",), HARD),
    ("qmail_02.txt", ("userx@example.com",), HARD),
    ("qmail_03.txt", ("userx@example.jp",), HARD),
    ("qmail_04.txt", ("userx@example.au",), HARD),
    ("qmail_05.txt", ("userx@example.com",), HARD),
    ("qmail_06.txt", ("ntl@xxx.com",), HARD),
    ("qmail_07.txt", ("user@example.net",), HARD),
    ("llnl_01.txt", ("user1@example.gov",), HARD),
    ("netscape_01.txt", ("aaaaa@corel.com", "bbbbb@corel.com"), HARD),
    ("yahoo_01.txt", ("userx@example.com",), HARD),
    ("yahoo_02.txt", ("userx@example.es",), HARD),
    ("yahoo_03.txt", ("userx@example.com",), HARD),
    ("yahoo_04.txt", ("userx@example.es", "usery@example.uk"), HARD),
    ("yahoo_05.txt", ("userx@example.com", "usery@example.com"), HARD),
    (
        "yahoo_06.txt",
        ("userx@example.com", "usery@example.com", "userz@example.com", "usera@example.com"),
        HARD,
    ),
    (
        "yahoo_07.txt",
        ("userw@example.com", "userx@example.com", "usery@example.com", "userz@example.com"),
        HARD,
    ),
    (
        "yahoo_08.txt",
        (
            "usera@example.com",
            "userb@example.com",
            "userc@example.com",
            "userd@example.com",
            "usere@example.com",
            "userf@example.com",
        ),
        HARD,
    ),
    ("yahoo_09.txt", ("userx@example.com", "usery@example.com"), HARD),
    ("yahoo_10.txt", ("userx@example.com", "usery@example.com", "userz@example.com"), HARD),
    ("yahoo_11.txt", ("bad_user@aol.com",), HARD),
    ("yahoo_13.txt", ("bogus-address@example.net",), HARD),
    ("sina_01.txt", ("userx@sina.com", "usery@sina.com"), HARD),
    ("aol_01.txt", ("screenname@aol.com",), HARD),
    ("caiwireless_01.txt", ("userx@example.com",), HARD),
]
#: no recipient can be found in these (flufl.bounce says so too): nothing may be suppressed
NO_RECIPIENT = ["dumbass_01.txt", "groupwise_03.txt", "qmail_08.txt", "simple_43.txt"]


def findings(name: str) -> dict[str, str]:
    return {f.email: f.kind for f in classify((FLUFL / name).read_bytes()).findings}


def test_at_least_90_percent_of_hard_bounces_are_recognised() -> None:
    hard = [(name, address) for name, addresses, kind in CORPUS if kind == HARD for address in addresses]
    recognised = [(n, a) for n, a in hard if findings(n).get(a) == HARD]
    missed = sorted(set(hard) - set(recognised))
    print(f"hard bounces recognised: {len(recognised)}/{len(hard)} ({len(recognised) / len(hard):.1%})")
    assert len(hard) > 100
    assert len(recognised) / len(hard) >= 0.90, missed


@pytest.mark.parametrize("name", [n for n, _, kind in CORPUS if kind == SOFT])
def test_a_soft_bounce_is_soft(name: str) -> None:
    (addresses,) = [a for n, a, _ in CORPUS if n == name]
    found = findings(name)
    assert all(found.get(a) == SOFT for a in addresses), found
    assert HARD not in found.values()


@pytest.mark.parametrize("name", NO_RECIPIENT)
def test_nothing_is_made_up(name: str) -> None:
    assert HARD not in findings(name).values()


def test_a_spam_block_is_not_a_bad_address() -> None:
    """Gmail's 550 5.7.1 "likely unsolicited mail" refuses the sender, not the address."""
    assert set(findings("simple_42.txt").values()) == {SOFT}


@pytest.mark.parametrize("name", [n for n, _, kind in CORPUS if kind == SOFT] + ["simple_42.txt"])
def test_one_soft_bounce_never_suppresses(tmp_path: Path, name: str) -> None:
    processor = Processor(tmp_path, FeedbackSettings())
    try:
        handled = processor.handle((FLUFL / name).read_bytes(), name)
    finally:
        processor.close()
    assert handled.events and handled.suppressed == ()


def test_the_third_soft_bounce_in_the_window_suppresses(tmp_path: Path) -> None:
    raw = (FLUFL / "dsn_05.txt").read_bytes()  # delayed: userx@example.cz
    clock = [1_700_000_000.0]  # 2023: the report's own date (2001) is implausible, so "now" counts
    settings = FeedbackSettings(soft_bounce_limit=3, soft_bounce_days=14)
    processor = Processor(tmp_path, settings, clock=lambda: clock[0])
    try:
        first = processor.handle(raw + b"\n", "first")
        clock[0] += 20 * 86400  # the first one leaves the 14-day window
        second = processor.handle(raw + b"\n\n", "second")
        third = processor.handle(raw + b"\n\n\n", "third")
        clock[0] += 86400
        fourth = processor.handle(raw + b"\n\n\n\n", "fourth")
    finally:
        processor.close()
    assert [len(h.suppressed) for h in (first, second, third, fourth)] == [0, 0, 0, 1]
    assert fourth.suppressed[0][1].startswith("soft bounces (3 in 14 days, last: ")
