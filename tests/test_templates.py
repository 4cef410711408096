"""Template files and strict rendering: headers, body, missing variables, escaping, injection."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tierii_core.compose import ComposeError, Composer
from tierii_core.default_plugins.mustache import Mustache
from tierii_core.errors import ConfigurationError, TemplateError
from tierii_core.models import Address, Contact
from tierii_core.templates import load_template, parse_template


def write(tmp_path: Path, text: str, name: str = "t.mustache") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def composer(path: Path, **kwargs) -> Composer:
    return Composer(path, Mustache(None), **kwargs)


def test_headers_then_blank_line_then_body(tmp_path: Path) -> None:
    template = load_template(
        write(tmp_path, "Subject: Hi {{name}}\nFROM: Shop <s@example.com>\n  (folded)\n\nBody {{name}}\n")
    )
    assert template.headers["Subject"].text == "Hi {{name}}"
    assert template.headers["From"].text == "Shop <s@example.com> (folded)"
    assert template.body.text == "Body {{name}}\n"
    assert template.body.origin.endswith("t.mustache:5")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Hello there\n\nbody", r"t.mustache:1: expected a header line"),
        (
            "Subject: a\nTo: {{email}}\n\nbody",
            r"t.mustache:2: header 'To' is not supported \(the recipient comes from",
        ),
        ("Subject: a\nX-Thing: b\n\nbody", r"t.mustache:2: header 'X-Thing' is not supported"),
        ("Subject: a\nSubject: b\n\nbody", r"t.mustache:2: header 'Subject' appears twice"),
        ("Subject: a", r"no blank line after the headers"),
    ],
)
def test_malformed_templates_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        load_template(write(tmp_path, text))


def test_undecodable_template_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "t.mustache"
    path.write_bytes(b"Subject: a\n\nline two\ncaf\xe9\n")
    with pytest.raises(TemplateError, match=r"t.mustache:4: not valid UTF-8"):
        load_template(path)


def test_mustache_syntax_error_names_the_piece(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"t.mustache:3: mustache syntax error"):
        composer(write(tmp_path, "Subject: a\n\n{{#open}} never closed\n"), sender="a@example.com")


def test_missing_variable_fails_the_contact_naming_it(tmp_path: Path) -> None:
    c = composer(write(tmp_path, "Subject: Hi {{first_name}}\nFrom: s@example.com\n\n{{city}}\n"))
    message = c.compose(Contact("a@example.com", {"first_name": "Ana", "city": "LA"}))
    assert (message.subject, message.text) == ("Hi Ana", "LA\n")
    with pytest.raises(
        ComposeError, match=r"no value for template variable 'city' \(used at .*t.mustache:4\)"
    ):
        c.compose(Contact("b@example.com", {"first_name": "Ben"}))
    with pytest.raises(ComposeError, match="'city'"):
        c.compose(Contact("b@example.com", {"first_name": "Ben", "city": None}))


def test_empty_value_is_a_value_and_sections_use_it(tmp_path: Path) -> None:
    c = composer(
        write(
            tmp_path,
            "Subject: x\nFrom: s@example.com\n\n{{#vip}}VIP {{/vip}}{{^vip}}regular{{/vip}} [{{nick}}]\n",
        )
    )
    assert c.compose(Contact("a@example.com", {"vip": "", "nick": ""})).text == "regular []\n"
    assert c.compose(Contact("a@example.com", {"vip": "yes", "nick": "A"})).text == "VIP  [A]\n"
    with pytest.raises(ComposeError, match="'vip'"):
        c.compose(Contact("a@example.com", {"nick": ""}))


def test_html_escaping_only_in_the_html_part(tmp_path: Path) -> None:
    text = write(tmp_path, "Subject: {{name}}\nFrom: s@example.com\n\nHi {{name}}\n")
    html = write(tmp_path, "<p>Hi {{name}}</p>", "t.html.mustache")
    message = composer(text, html_path=html).compose(Contact("a@example.com", {"name": "Smith & <Sons>"}))
    assert message.subject == "Smith & <Sons>"
    assert message.text == "Hi Smith & <Sons>\n"
    assert message.html == "<p>Hi Smith &amp; &lt;Sons&gt;</p>"


def test_options_win_over_template_headers_and_settings_fill_gaps(tmp_path: Path) -> None:
    path = write(tmp_path, "Subject: from template\n\nbody\n")
    with pytest.raises(ConfigurationError, match="no sender"):
        composer(path)
    message = composer(path, subject="option {{x}}", default_sender=Address("d@example.com", "D")).compose(
        Contact("a@example.com", {"x": "1"})
    )
    assert message.subject == "option 1"
    assert message.sender == Address("d@example.com", "D")
    with pytest.raises(ConfigurationError, match="no 'Subject:' header"):
        composer(write(tmp_path, "From: a@example.com\n\nbody\n"))


def test_rendered_sender_must_be_an_address(tmp_path: Path) -> None:
    c = composer(write(tmp_path, "Subject: x\nFrom: {{rep}}\n\nbody\n"))
    assert c.compose(Contact("a@example.com", {"rep": "Rep <rep@example.com>"})).sender == Address(
        "rep@example.com", "Rep"
    )
    with pytest.raises(ComposeError, match="From 'nobody' is not an email address"):
        c.compose(Contact("a@example.com", {"rep": "nobody"}))


def test_parse_template_accepts_crlf_files(tmp_path: Path) -> None:
    template = parse_template("Subject: a\r\n\r\nbody\r\n", tmp_path / "t.mustache")
    assert template.body.text == "body\n"


@given(value=st.text(st.characters(exclude_categories=("Cs",)), max_size=80))
def test_no_contact_value_ever_creates_a_header(tmp_path_factory: pytest.TempPathFactory, value: str) -> None:
    path = write(
        tmp_path_factory.mktemp("t"),
        "Subject: Hi {{v}}\nFrom: {{v}} <s@example.com>\nReply-To: {{v}} <r@example.com>\n\n{{v}}\n",
    )
    try:
        message = composer(path).compose(Contact("a@example.com", {"v": value, "name": value}))
    except ComposeError as exc:  # a value that makes From unparseable fails that contact, cleanly
        assert "is not an email address" in str(exc)
        return
    data = message.as_bytes()
    head = data.split(b"\r\n\r\n", 1)[0]
    names = [line.split(b":", 1)[0] for line in head.split(b"\r\n") if line[:1] not in (b" ", b"\t")]
    assert names == [
        b"Date",
        b"From",
        b"To",
        b"Reply-To",
        b"Subject",
        b"Message-ID",
        b"MIME-Version",
        b"Content-Type",
        b"Content-Transfer-Encoding",
    ]
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert parsed["To"].addresses[0].addr_spec == "a@example.com"
    assert parsed["From"].addresses[0].addr_spec == "s@example.com"


name = st.sampled_from(["a", "b", "first_name"])
piece = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",), exclude_characters="{}"), max_size=10),
    name.map(lambda n: "{{" + n + "}}"),
    name.map(lambda n: "{{{" + n + "}}}"),
    name.map(lambda n: "{{& " + n + "}}"),
)


@given(
    pieces=st.lists(piece, max_size=8),
    values=st.fixed_dictionaries({n: st.text(max_size=10) for n in ["a", "b", "first_name"]}),
    escape=st.booleans(),
)
def test_the_fast_flat_renderer_matches_chevron(pieces: list[str], values: dict, escape: bool) -> None:
    import chevron

    source = "".join(pieces)
    compiled = Mustache(None).compile(source, origin="t:1", escape_html=escape)
    assert compiled.flat
    expected = chevron.render(compiled.tokens, values)  # tokens already say what to escape
    assert compiled.render(values) == expected
