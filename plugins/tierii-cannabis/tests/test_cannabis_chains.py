"""A chain's multi-state campaign: one `tierii send --rules cannabis-auto` into the outbox.

Every message parsed back from the Maildir must carry its own store's licence number, From
and postal address and its own state's required texts; `tierii status` must show why each
recipient left out was left out.
"""

from __future__ import annotations

import email
import email.policy
import json
import mailbox
from collections.abc import Callable
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tierii_core.cli import cli
from tierii_core.visible import html_to_text

WA_WARNINGS = (
    "This product has intoxicating effects and may be habit forming. "
    "Cannabis can impair concentration, coordination, and judgment. Do not operate a vehicle or "
    "machinery under the influence of this drug. "
    "There may be health risks associated with consumption of this product. "
    "For use only by adults twenty-one and older. Keep out of the reach of children."
)
NY_WARNINGS = (
    "For use only by adults 21 years of age and older. Keep out of reach of children and pets. In case of "
    "accidental ingestion or overconsumption, contact the Poison Center at 1-800-222-1222 or call 9-1-1. "
    "Please consume responsibly. Cannabis can be addictive."
)
NJ_WARNINGS = (
    "This product contains cannabis. For use only by adults 21 years of age or older. Keep out of the reach "
    "of children. There may be health risks associated with the consumption of this product, including for "
    "women who are pregnant, breastfeeding, or planning on becoming pregnant. Do not drive a motor vehicle "
    "or operate heavy machinery while using this product. Green Leaf is licensed by the State of New Jersey."
)
NV_WARNINGS = "Keep out of reach of children. For use only by adults 21 years of age and older."
MA_WARNINGS = "Please Consume Responsibly. This product may cause impairment and may be habit forming."
#: each state's required texts, which only its stores' messages carry
WARNINGS = {"WA": WA_WARNINGS, "NY": NY_WARNINGS, "NJ": NJ_WARNINGS, "NV": NV_WARNINGS, "MA": MA_WARNINGS}
#: id, licence, type, state, from, address
STORES = [
    ("sac", "C10-0000001-LIC", "retail", "CA", "Green Leaf Sacramento <sac@greenleaf.example>",
     "Green Leaf Sacramento, 100 Main Street, Sacramento, CA 95814"),
    ("la", "C10-0000002-LIC", "microbusiness", "CA", "Green Leaf LA <la@greenleaf.example>",
     "Green Leaf LA, 9 Sunset Blvd, Los Angeles, CA 90028"),
    ("den", "402R-00001", "retail", "CO", "Green Leaf Denver <denver@greenleaf.example>",
     "Green Leaf Denver, 5 Colfax Ave, Denver, CO 80202"),
    ("den-med", "402-00002", "medical", "CO", "Green Leaf Denver Medical <med@greenleaf.example>",
     "Green Leaf Denver Medical, 7 Colfax Ave, Denver, CO 80202"),
    ("sea", "412345", "retail", "WA", "Green Leaf Seattle <seattle@greenleaf.example>",
     "Green Leaf Seattle, 1 Pike Street, Seattle, WA 98101"),
    ("pdx", "050-1001", "retail", "OR", "Green Leaf Portland <pdx@greenleaf.example>",
     "Green Leaf Portland, 2 Burnside St, Portland, OR 97209"),
    ("bk", "OCM-AUCP-24-000101", "retail", "NY", "Green Leaf Brooklyn <bk@greenleaf.example>",
     "Green Leaf Brooklyn, 3 Atlantic Ave, Brooklyn, NY 11201"),
    ("nwk", "RE000123", "retail", "NJ", "Green Leaf Newark <nwk@greenleaf.example>",
     "Green Leaf Newark, 4 Broad St, Newark, NJ 07102"),
    ("lv", "RD-0456", "retail", "NV", "Green Leaf Las Vegas <lv@greenleaf.example>",
     "Green Leaf Las Vegas, 5 Fremont St, Las Vegas, NV 89101"),
    ("bos", "MR281234", "retail", "MA", "Green Leaf Boston <bos@greenleaf.example>",
     "Green Leaf Boston, 6 Tremont St, Boston, MA 02108"),
]  # fmt: skip
BY_ID = {row[0]: row for row in STORES}

TEXT = """\
Subject: {{first_name}}, new at Green Leaf
Reply-To: team@greenleaf.example

Hi {{first_name}}, fresh {{favorite}} is in.

--
Advertisement. For adults 21 and over. Licence {{license_number}}.
{{#store_in.WA}}
WA_WARNINGS
{{/store_in.WA}}
{{#store_in.NY}}
NY_WARNINGS
{{/store_in.NY}}
{{#store_in.NJ}}
NJ_WARNINGS
{{/store_in.NJ}}
{{#store_in.NV}}
NV_WARNINGS
{{/store_in.NV}}
{{#store_in.MA}}
MA_WARNINGS
{{/store_in.MA}}
{{sender_address}}
Unsubscribe: {{unsubscribe_url}}
"""
for _state, _texts in WARNINGS.items():
    TEXT = TEXT.replace(f"{_state}_WARNINGS", _texts)

HTML = """\
<html><body><p>Hi {{first_name}}, fresh {{favorite}} is in.</p>
<p>Advertisement. For adults 21 and over. Licence {{license_number}}.</p>
{{#store_in.WA}}<p>WA_WARNINGS</p>{{/store_in.WA}}
{{#store_in.NY}}<p>NY_WARNINGS</p>{{/store_in.NY}}
{{#store_in.NJ}}<p>NJ_WARNINGS</p>{{/store_in.NJ}}
{{#store_in.NV}}<p>NV_WARNINGS</p>{{/store_in.NV}}
{{#store_in.MA}}<p>MA_WARNINGS</p>{{/store_in.MA}}
<p>{{sender_address}} <a href="{{unsubscribe_url}}">Unsubscribe</a></p>
</body></html>
"""
for _state, _texts in WARNINGS.items():
    HTML = HTML.replace(f"{_state}_WARNINGS", _texts)


def years_ago(years: int, days: int = 0) -> str:
    today = date.today()
    try:
        born = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        born = date(today.year - years, 3, 1)
    return date.fromordinal(born.toordinal() + days).isoformat()


ADULT = "1985-03-03"
NINETEEN = years_ago(19, days=-30)
CONTACTS = [
    # email, store, state, birthdate, medical, consent
    ("ca1@example.com", "sac", "CA", ADULT, "", "yes"),
    ("ca2@example.com", "LA", "CA", ADULT, "", "2024-02-01"),  # store ids match in any case
    ("co1@example.com", "den", "CO", ADULT, "", "yes"),
    ("wa1@example.com", "sea", "WA", ADULT, "", "yes"),
    ("med19@example.com", "den-med", "CO", NINETEEN, "yes", "yes"),  # a medical licensee may
    ("retail19@example.com", "den", "CO", NINETEEN, "yes", "yes"),  # a retail one never may
    ("wa19@example.com", "sea", "WA", NINETEEN, "yes", "yes"),
    ("young@example.com", "sac", "CA", years_ago(21, days=1), "", "yes"),  # 21 tomorrow
    ("away@example.com", "sac", "NV", ADULT, "", "yes"),  # out of state for its store
    ("oregon@example.com", "pdx", "OR", ADULT, "", "yes"),  # a state without a pack
    ("lost@example.com", "reno", "NV", ADULT, "", "yes"),  # no such store
    ("ny1@example.com", "bk", "NY", ADULT, "", "yes"),
    ("nydeal@example.com", "bk", "NY", ADULT, "", "yes"),  # their favourite reads "20% off": refused in NY
    ("nj1@example.com", "nwk", "NJ", ADULT, "", "yes"),
    ("nv1@example.com", "lv", "NV", ADULT, "", "yes"),
    ("ma1@example.com", "bos", "MA", ADULT, "", "yes"),
    ("ny19@example.com", "bk", "NY", NINETEEN, "yes", "yes"),
]
SENT = {"ca1@example.com", "ca2@example.com", "co1@example.com", "wa1@example.com", "med19@example.com"}
SENT |= {"ny1@example.com", "nj1@example.com", "nv1@example.com", "ma1@example.com"}


def write_stores(path: Path) -> None:
    if path.suffix == ".toml":
        tables = []
        for row in STORES:
            fields = dict(
                zip(("id", "license_number", "license_type", "state", "from", "address"), row, strict=True)
            )
            tables.append("[[stores]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in fields.items()))
        path.write_text("\n".join(tables), encoding="utf-8")
        return
    lines = ["id,license_number,license_type,state,from,address"]
    lines += [",".join(f'"{cell}"' for cell in row) for row in STORES]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(params=["stores.csv", "stores.toml"])
def chain(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    stores = tmp_path / request.param
    write_stores(stores)
    for name, value in {
        "TIERII_PROVIDER": "outbox",
        "TIERII_OUTBOX_DIR": str(tmp_path / "outbox"),
        "TIERII_STATE_DIR": str(tmp_path / "state"),
        "TIERII_CANNABIS_STORES_FILE": str(stores),
        "TIERII_UNSUBSCRIBE_URL": "https://greenleaf.example/unsubscribe",
        "TIERII_UNSUBSCRIBE_SECRET": "test-secret-0123456789-0123456789",
        "TIERII_LOAD_PLUGINS": "tierii-csv,tierii-cannabis",
    }.items():
        monkeypatch.setenv(name, value)
    rows = ["email,first_name,favorite,store,state,birthdate,medical,consent"]
    rows += [
        f"{e},{e.split('@')[0].title()},{favourite(e)},{s},{st},{b},{m},{c}" for e, s, st, b, m, c in CONTACTS
    ]
    (tmp_path / "contacts.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "news.mustache").write_text(TEXT, encoding="utf-8")
    (tmp_path / "news.html.mustache").write_text(HTML, encoding="utf-8")
    return tmp_path


def favourite(address: str) -> str:
    return "Gelato at 20% off" if address.startswith("nydeal") else "Gelato"


Run = Callable[..., Result]


def tierii(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def send(*extra: str) -> Result:
    files = ["contacts.csv", "-t", "news.mustache", "--html", "news.html.mustache"]
    return tierii("send", *files, "--rules", "cannabis-auto", *extra)


def parsed_outbox(directory: Path) -> dict[str, EmailMessage]:
    box = mailbox.Maildir(str(directory / "outbox"), factory=None, create=False)
    messages = [
        email.message_from_bytes(box.get_bytes(k), policy=email.policy.default) for k in box.iterkeys()
    ]
    return {m["To"].addresses[0].addr_spec: m for m in messages}


def parts(message: EmailMessage) -> dict[str, str]:
    text = message.get_body(("plain",)).get_content()
    html = html_to_text(message.get_body(("html",)).get_content())
    return {"text": " ".join(text.split()), "html": " ".join(html.split())}


def status(*states: str) -> dict[str, Any]:
    result = tierii("status", "--json", *[f"--list={s}" for s in states])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_one_run_sends_each_store_s_recipients_its_own_compliant_message(chain: Path) -> None:
    result = send()
    assert result.exit_code == 1, result.output  # the contact with an unknown store failed
    messages = parsed_outbox(chain)
    assert set(messages) == SENT
    contacts = {c[0]: c for c in CONTACTS}
    for address, message in messages.items():
        store_id, licence, _, state, sender, postal = BY_ID[contacts[address][1].lower()]
        assert message["From"] == sender, address
        for part, text in parts(message).items():
            assert f"Licence {licence}." in text, (address, part)
            assert postal in text, (address, part)
            assert "Advertisement." in text
            for warned, warnings in WARNINGS.items():  # its own state's texts, no other's
                assert (warnings in text) is (warned == state), (address, part, warned)
        for other in STORES:  # no other store's licence or address leaks in
            if other[0] != store_id:
                assert other[1] not in message.as_string() and other[5] not in message.as_string()

    report = status("excluded", "failed")
    excluded = {row["email"]: row["reason"] for row in report["recipients"]["excluded"]}
    assert set(excluded) == {
        "retail19@example.com",
        "wa19@example.com",
        "young@example.com",
        "away@example.com",
        "oregon@example.com",
        "ny19@example.com",
    }
    assert excluded["retail19@example.com"].startswith("cannabis-auto: under 21 (cannabis-co): born ")
    assert (
        "flagged medical, but store 'den' (retail licence 402R-00001) is not a medical licence"
        in (excluded["retail19@example.com"])
    )
    assert excluded["wa19@example.com"].startswith("cannabis-auto: under 21 (cannabis-wa): born ")
    assert excluded["young@example.com"].startswith("cannabis-auto: under 21 (cannabis-ca): born ")
    assert "Cal. Bus. & Prof. Code §26151(c)" in excluded["young@example.com"]
    assert excluded["away@example.com"].startswith("cannabis-auto: out of state (cannabis-ca): NV is not CA")
    assert excluded["oregon@example.com"].startswith("cannabis-auto: no pack for OR: store 'pdx'")
    assert excluded["ny19@example.com"].startswith("cannabis-auto: under 21 (cannabis-ny): born ")
    failed = {row["email"]: row for row in report["recipients"]["failed"]}
    assert sorted(failed) == ["lost@example.com", "nydeal@example.com"]
    assert failed["nydeal@example.com"]["reason"] == (
        "cannabis-auto: banned claim in the text (cannabis-ny): '20% off': promotes a price, a price "
        "reduction, a discount, a loyalty program or a coupon (9 NYCRR 129.3(a)(9))"
    )
    assert failed["lost@example.com"]["reason"].startswith(
        "contacts.csv:12: unknown store: store 'reno' is not in "
    )
    assert report["excluded_by_reason"]["cannabis-auto: under 21 (cannabis-co)"] == 1

    shown = tierii("status", "--list", "excluded").output
    assert "cannabis-auto: out of state (cannabis-ca): 1" in shown
    assert "away@example.com" in shown


def test_a_template_with_a_fixed_sender_is_refused_for_a_chain(chain: Path) -> None:
    (chain / "news.mustache").write_text(
        TEXT.replace("Reply-To:", "From: hello@greenleaf.example\nReply-To:")
    )
    result = send()
    assert result.exit_code == 2, result.output
    assert "wrong sender (cannabis-ca): From is hello@greenleaf.example, but store 'sac'" in result.output
    assert "{{store_from}}" in result.output


def test_a_store_without_its_state_s_warnings_fails_its_recipients_only(chain: Path) -> None:
    text = TEXT.replace(WA_WARNINGS, "Enjoy responsibly.")
    (chain / "news.mustache").write_text(text, encoding="utf-8")
    result = send()
    assert result.exit_code == 1, result.output
    failed = {row["email"]: row["reason"] for row in status("failed")["recipients"]["failed"]}
    assert failed["wa1@example.com"].startswith(
        "cannabis-auto: required text missing (cannabis-wa): the text part"
    )
    assert "ca1@example.com" in parsed_outbox(chain)


def test_the_ad_notice_is_waived_only_when_every_recipient_consented(chain: Path) -> None:
    result = send("--dry-run")
    assert "ad notice: waived (every recipient has consent on record)" in result.output


def test_a_dry_run_lists_what_a_person_must_review_per_pack(chain: Path) -> None:
    result = send("--dry-run")
    assert result.exit_code == 1, result.output
    out = result.output
    review = out[out.index("review by hand") :]
    assert "cannabis-auto:" in review
    assert "cannabis-ca: Where the list came from: at least 71.6 percent" in review
    assert "(Cal. Bus. & Prof. Code §26151(b))" in review
    assert "cannabis-wa: No image, object or character especially appealing" in review
    assert "review by hand" not in send().output  # a real run does not repeat it


def test_cannabis_auto_without_a_stores_file_says_what_to_set(
    chain: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TIERII_CANNABIS_STORES_FILE")
    monkeypatch.setenv("TIERII_CANNABIS_LICENSE_NUMBER", "C10-1")
    monkeypatch.setenv("TIERII_FROM_EMAIL", "hello@greenleaf.example")
    result = send()
    assert result.exit_code == 2
    assert (
        "--rules cannabis-auto checks each recipient against their store's state: "
        "set TIERII_CANNABIS_STORES_FILE" in result.output
    )


def test_a_broken_stores_file_stops_the_command_naming_the_line(
    chain: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = chain / "broken.csv"
    broken.write_text(
        "id,license_number,license_type,state,from,address\nsac,C10-1,shop,CA,a@b.example,1 Main\n"
    )
    monkeypatch.setenv("TIERII_CANNABIS_STORES_FILE", str(broken))
    result = send("--dry-run")
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: {broken}:2: licence type 'shop' is not one of retail, microbusiness, delivery, medical"
    )


def test_a_single_state_pack_excludes_the_chain_s_other_states(chain: Path) -> None:
    files = ["contacts.csv", "-t", "news.mustache", "--html", "news.html.mustache"]
    result = tierii("send", *files, "--rules", "cannabis-ca", "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "dry run: 2 would be sent" in out  # the adults of the two California stores
    assert "  cannabis-ca: store in another state: 8\n" in out  # the other stores' adults
    # two Nevada residents: one of a California store, one whose store is unknown (excluded
    # by its state before its store is looked for)
    assert "  cannabis-ca: out of state: 2\n" in out
