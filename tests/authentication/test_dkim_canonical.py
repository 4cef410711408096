"""TierII's own RFC 6376 parsing and relaxed canonicalization (tierii_core.dkim_canonical) give
exactly what dkimpy gives, for any input; every signature TierII makes verifies with dkimpy.

dkimpy is the reference here: its functions are the ones our signer replaced on the hot path
(they were the cost), and its verifier is what a receiver does.
"""

from __future__ import annotations

import base64
import email.header
import hashlib
import subprocess
import sys
from datetime import datetime, timezone

import dkim
import pytest
from dkim.canonicalization import Relaxed
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tierii_core.dkim import DkimSigner
from tierii_core.dkim_canonical import (
    MessageFormatError,
    relaxed_body,
    relaxed_header,
    relaxed_message,
    select_headers,
    sha256,
    split_message,
)
from tierii_core.models import Address, Contact, Message

from .conftest import ED25519, RSA

DOMAIN = "greenleaf.example"
CHECKS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- what header values and bodies are made of -------------------------------------------------

_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=40).map(
    lambda s: s.encode("utf-8")
)
_white = st.sampled_from([b" ", b"\t", b"  ", b" \t ", b"\t\t", b"   "])
_fold = st.sampled_from([b"\r\n ", b"\r\n\t", b"\r\n  ", b" \r\n ", b"\t\r\n\t"])
_stray = st.sampled_from([b"\r", b"\n", b"\x0b", b"\x0c", b"\x00"])
_encoded_word = st.text(max_size=30).map(lambda s: email.header.Header(s, "utf-8").encode().encode("ascii"))
_long = st.integers(60, 400).map(lambda n: b"x" * n)


def _joined(parts: st.SearchStrategy[bytes], max_size: int = 12) -> st.SearchStrategy[bytes]:
    return st.lists(parts, max_size=max_size).map(b"".join)


#: a header value as it appears after the colon: folded or not, any white space, encoded
#: words, raw UTF-8, long runs, trailing white space, the odd stray control character
header_values = _joined(st.one_of(_text, _white, _fold, _encoded_word, _long, _stray))
#: a value as a serializer writes it: no bare CR or LF, folds only before white space
clean_values = _joined(st.one_of(_text, _white, _fold, _encoded_word, _long))
FIELD_NAMES = b"From from TO To Subject Date Message-ID Reply-To Cc MIME-Version Content-Type".split()
FIELD_NAMES += b"List-Unsubscribe List-Unsubscribe-Post X-Campaign Received".split()
field_names = st.one_of(
    st.sampled_from(FIELD_NAMES),
    st.text(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=":"), min_size=1, max_size=20
    ).map(str.encode),
)
_line = _joined(st.one_of(_text, _white, _long, _stray), max_size=8)
_line_end = st.sampled_from([b"\r\n", b"\r\n", b"\r\n", b"\n", b"\r"])
#: a body: lines with any white space, trailing blank lines, CRLF or a bare CR or LF
bodies = st.lists(st.tuples(_line, _line_end), max_size=20).map(
    lambda lines: b"".join(a + b for a, b in lines)
)


@st.composite
def messages(draw: st.DrawFn, values: st.SearchStrategy[bytes] = clean_values) -> bytes:
    """Raw messages: a From, any other fields (repeated, any case), maybe an mbox ``From ``
    line first, a blank line, a body; line ends CRLF or (``values`` allowing) bare LF."""
    fields = [(b"From", b" " + draw(values))]
    fields += draw(st.lists(st.tuples(field_names, values), max_size=12))
    fields = draw(st.permutations(fields))
    end = draw(st.sampled_from([b"\r\n", b"\r\n", b"\n"]))
    head = b"".join(name + b":" + value + end for name, value in fields)
    if draw(st.booleans()):
        head = b"From someone@example.net Mon Apr 20 16:20:00 2026" + end + head
    return head + end + draw(bodies)


# -- each piece equals dkimpy's ----------------------------------------------------------------


@CHECKS
@given(name=field_names, value=st.one_of(header_values, st.binary(max_size=300)))
@example(name=b"Subject ", value=b" \t Hi\r\n\tthere  \r\n")
@example(name=b"To", value=b"")
def test_relaxed_header_equals_dkimpys(name: bytes, value: bytes) -> None:
    assert relaxed_header(name, value) == tuple(Relaxed.canonicalize_headers([(name, value)])[0])


@CHECKS
@given(body=st.one_of(bodies, st.binary(max_size=600)))
@example(body=b"")
@example(body=b"\r\n\r\n\r\n")
@example(body=b"Hi \t\r\n\r\n \r\n")
@example(body=b"no line end")
@example(body=b"ends with a bare CR\r")
def test_relaxed_body_equals_dkimpys(body: bytes) -> None:
    assert relaxed_body(body) == Relaxed.canonicalize_body(body)


def _dkimpy_parse(message: bytes):
    try:
        headers, body = dkim.rfc822_parse(message)
    except (dkim.MessageFormatError, IndexError):  # IndexError: a continuation line first
        return "refused"
    return [tuple(field) for field in headers], body


def _our_parse(message: bytes):
    try:
        return split_message(message)
    except MessageFormatError:
        return "refused"


@CHECKS
@given(message=st.one_of(messages(header_values), st.binary(max_size=400)))
@example(message=b"")
@example(message=b"\r\nbody only")
@example(message=b" continuation first: x\r\n\r\n")
@example(message=b"From: a\r\nTo: b")
@example(message=b"From: a\r\nTo: b\r\n")
@example(message=b"From: a\r\r\n\r\nbody\nwith\r\nbare\rends\n")
def test_split_message_equals_dkimpys_parse(message: bytes) -> None:
    assert _our_parse(message) == _dkimpy_parse(message)


def _dkimpy_relaxed(message: bytes):
    parsed = _dkimpy_parse(message)
    if parsed == "refused":
        return parsed
    headers, body = parsed
    return [tuple(field) for field in Relaxed.canonicalize_headers(headers)], body


def _our_relaxed(message: bytes):
    try:
        return relaxed_message(message)
    except MessageFormatError:
        return "refused"


@CHECKS
@given(message=st.one_of(messages(header_values), messages(clean_values), st.binary(max_size=400)))
@example(message=b"\r\nFrom: a\r\n\r\nbody")
@example(message=b"From \t someone: x\r\nTo: b\r\n\r\n")
@example(message=b"::x\r\n\r\n")
@example(message=b"From: \n0\r\n\r\n")
@example(message=b"A: x\r\r\n y\r\nB:\t z \r\n\r\n")
@example(message=b"From: a\r\nFrom\r\n\r\nbody")  # a known name, then a line without a colon
def test_relaxed_message_equals_dkimpys_parse_and_canonicalization(message: bytes) -> None:
    """The signer's one-pass way over the head gives what parsing and canonicalizing each field does."""
    assert _our_relaxed(message) == _dkimpy_relaxed(message)


@CHECKS
@given(message=messages(clean_values))
def test_skipping_the_bare_lf_look_changes_nothing_on_crlf_messages(message: bytes) -> None:
    """``crlf=True`` (the signer on TierII's own serialized bytes) gives the same result."""
    message = message.replace(b"\r\n", b"\n").replace(b"\r", b"").replace(b"\n", b"\r\n")
    assert relaxed_message(message, crlf=True) == _dkimpy_relaxed(message)


@CHECKS
@given(
    headers=st.lists(st.tuples(field_names, st.just(b" v\r\n")), max_size=12),
    names=st.lists(field_names.map(bytes.lower), max_size=12),
)
def test_select_headers_equals_dkimpys(headers, names) -> None:
    assert select_headers(headers, names) == dkim.select_headers(headers, names)


@CHECKS
@given(parts=st.lists(st.binary(max_size=5000), max_size=4))
def test_the_pieced_hash_is_sha256(parts: list[bytes]) -> None:
    assert sha256(*parts) == hashlib.sha256(b"".join(parts)).digest()


# -- every signature verifies with dkimpy ------------------------------------------------------


def _verdicts(data: bytes, keys) -> list[bool]:
    records = {
        f"{keys[n].selector}._domainkey.{DOMAIN}.".encode(): keys[n].dns_record().encode()
        for n in (RSA, ED25519)
    }

    def txt(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name)

    count = data.count(b"\r\nDKIM-Signature:") + data.startswith(b"DKIM-Signature:")
    verdicts = []
    for index in range(count):
        try:
            verdicts.append(dkim.DKIM(data).verify(index, dnsfunc=txt))
        except dkim.ValidationError:
            verdicts.append(False)
    return verdicts


KEY_SETS = pytest.mark.parametrize(
    "names", [(RSA,), (ED25519,), (RSA, ED25519)], ids=["rsa", "ed25519", "dual"]
)


@KEY_SETS
@CHECKS
@given(message=messages(clean_values))
@example(message=b"To: a\r\nFrom: x\r\nTO: b\r\nfrom: y\r\nSubject: s\r\n\r\nHi\r\n")
def test_any_message_we_sign_verifies_with_dkimpy(keys, names, message: bytes) -> None:
    data = DkimSigner(DOMAIN, [keys[n] for n in names]).sign(message)
    assert _verdicts(data, keys) == [True] * len(names)


@CHECKS
@given(message=messages(clean_values))
def test_our_body_hash_is_dkimpys(keys, message: bytes) -> None:
    ours = DkimSigner(DOMAIN, [keys[ED25519]]).signature_headers(message)
    theirs = dkim.sign(
        message,
        b"ed2026",
        DOMAIN.encode(),
        keys[ED25519].dkimpy_private_key(),
        signature_algorithm=b"ed25519-sha256",
        canonicalize=(b"relaxed", b"relaxed"),
    )
    body_hash = [dkim.util.parse_tag_value(header.split(b":", 1)[1])[b"bh"] for header in (ours, theirs)]
    assert body_hash[0] == body_hash[1]


@KEY_SETS
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.text(max_size=80),
    subject=st.text(max_size=300),
    text=st.text(max_size=600),
    html=st.none() | st.text(max_size=200),
)
def test_serialized_messages_have_only_crlf_line_ends_and_verify(
    keys, names, name, subject, text, html
) -> None:
    """What the serializer writes has no bare CR or LF (the SMTP wire would turn one into a
    line end and break the signature): any contact values give messages that verify."""
    unsigned = Message(
        contact=Contact("zoe@example.net"),
        sender=Address(f"hello@{DOMAIN}", "Green Leaf"),
        to=Address("zoe@example.net", name),
        subject=subject,
        text=text,
        html=html,
        message_id=f"<1@{DOMAIN}>",
        date=datetime(2026, 4, 20, 16, 20, tzinfo=timezone.utc),
        headers=(
            ("List-Unsubscribe", f"<https://{DOMAIN}/unsubscribe?t=abc>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ),
    ).as_bytes()
    assert unsigned.count(b"\r") == unsigned.count(b"\n") == unsigned.count(b"\r\n")
    signer = DkimSigner(DOMAIN, [keys[n] for n in names])
    # as DeliveryProvider.message_bytes signs them: the serializer's bytes are CRLF only
    assert _verdicts(signer.sign(unsigned, crlf=True), keys) == [True] * len(names)


def test_signature_lines_stay_within_78_characters(keys) -> None:
    message = (
        b"From: a@" + DOMAIN.encode() + b"\r\n" + b"".join(b"To: x\r\n" for _ in range(30)) + b"\r\nHi\r\n"
    )
    header = DkimSigner(DOMAIN, [keys[RSA], keys[ED25519]]).signature_headers(message)
    assert max(len(line) for line in header.split(b"\r\n")) <= 78
    assert _verdicts(header + message, keys) == [True, True]


def test_a_message_that_is_not_one_is_refused_as_unsendable(keys) -> None:
    """A ValueError: the SMTP provider turns it into an unsendable outcome for that message."""
    with pytest.raises(ValueError, match="not a header field"):
        DkimSigner(DOMAIN, [keys[RSA]]).sign(b"From: a@greenleaf.example\r\nno colon here\r\n\r\nHi\r\n")


def test_signing_imports_neither_dkimpy_nor_dnspython(key_files) -> None:
    """dkimpy pulls in dnspython: ~0.18 s of every signed send's start-up, before the signer
    stopped using it."""
    script = (
        "import sys\n"
        "from tierii_core.dkim import DkimSettings, signer_from_settings\n"
        f"settings = DkimSettings(domain={DOMAIN!r}, selector='a,b', "
        f"private_key_file={str(key_files[RSA]) + ',' + str(key_files[ED25519])!r})\n"
        "signer_from_settings(settings).sign(b'From: a@greenleaf.example\\r\\n\\r\\nHi\\r\\n')\n"
        "print(sorted(m for m in ('dkim', 'dns', 'nacl') if m in sys.modules))\n"
    )
    printed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert printed.strip() == "[]"


def test_the_signature_is_base64_of_the_key_size(keys) -> None:
    header = DkimSigner(DOMAIN, [keys[RSA], keys[ED25519]]).signature_headers(b"From: a\r\n\r\n")
    signatures = [
        base64.b64decode(dkim.util.parse_tag_value(value)[b"b"].replace(b"\r\n ", b""))
        for value in header.split(b"DKIM-Signature:")[1:]
    ]
    assert [len(s) for s in signatures] == [256, 64]
