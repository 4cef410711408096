"""What a resolved rule pack is: its checks, claims and required texts, and how they match."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from attrs import field, frozen

from tierii_cannabis.text import squash, without_urls


@frozen
class Claim:
    """A banned claim: matched as a whole word or phrase, ignoring case, on squashed text."""

    id: str
    pattern: str
    reason: str
    source: str
    regex: re.Pattern[str] = field(eq=False, repr=False)
    #: texts the pattern must match, and texts it must not: documentation, checked on loading
    examples: tuple[str, ...] = ()
    counterexamples: tuple[str, ...] = ()

    def search(self, text: str) -> re.Match[str] | None:
        return self.regex.search(text)


@frozen
class RequiredText:
    """A text every part of a message must show (a mandatory warning): one text, or any one of
    ``choices`` (New York's rotating warnings); always, or only ``when`` the message mentions
    one of some words (California's disposal message for cartridges)."""

    id: str
    text: str
    source: str
    pattern: str
    regex: re.Pattern[str] = field(eq=False, repr=False)
    choices: tuple[str, ...] = ()
    #: the words that make the text required, as one whole-word pattern; None: always required
    when: re.Pattern[str] | None = field(default=None, eq=False, repr=False)
    when_words: tuple[str, ...] = ()

    def found_in(self, text: str) -> bool:
        return self.regex.search(text) is not None

    def trigger(self, texts: Mapping[str, str]) -> tuple[str, str] | None:
        """Where the message mentions a ``when`` word, and the word; None when it needs no text.
        A required text without ``when`` is needed by every message: ``("", "")``. ``texts`` are
        the subject and parts as claims are matched against (:func:`for_claims`)."""
        if self.when is None:
            return "", ""
        for part, text in texts.items():
            found = self.when.search(text)
            if found is not None:
                return part, found[0]
        return None

    def describe(self) -> str:
        if len(self.choices) > 1:
            return "one of " + " / ".join(repr(c) for c in self.choices)
        return repr(self.text)


@frozen
class ManualCheck:
    """A rule a text check cannot see (images, placement, audience data): a person reviews it."""

    id: str
    text: str
    source: str


@frozen
class Pack:
    """One resolved rule pack: what its rule checks, and the source it cites for each check."""

    name: str
    title: str
    origin: str
    states: frozenset[str]
    min_age: int
    medical_min_age: int
    consent_required: bool
    license_required: bool
    sources: Mapping[str, str] = field(hash=False)
    claims: tuple[Claim, ...]
    required: tuple[RequiredText, ...]
    extends: str | None = None
    manual: tuple[ManualCheck, ...] = ()

    def describe(self) -> str:
        """One line for ``tierii plugins``."""
        ages = f"{self.min_age}+" + (
            f" ({self.medical_min_age}+ medical)" if self.medical_min_age < self.min_age else ""
        )
        where = " ".join(sorted(self.states)) if len(self.states) <= 3 else f"{len(self.states)} states"
        checks = [f"age {ages}", f"recipients in {where}"]
        if self.consent_required:
            checks.append("consent")
        if self.license_required:
            checks.append("licence number")
        checks.append(f"{len(self.claims)} banned claims")
        if self.required:
            checks.append(f"{len(self.required)} required texts")
        return f"{self.title}: {', '.join(checks)}."


class LazyPattern:
    """A regular expression compiled on first use (a shipped pack's patterns are compiled only
    when a run names the pack); it answers as the compiled ``re.Pattern`` does."""

    __slots__ = ("_compile", "_regex", "_source")

    def __init__(self, source: str, compile_: Callable[[str], re.Pattern[str]]) -> None:
        self._source, self._compile = source, compile_
        self._regex: re.Pattern[str] | None = None

    def __getattr__(self, name: str) -> Any:
        if self._regex is None:
            self._regex = self._compile(self._source)
        return getattr(self._regex, name)


def claim_pattern(pattern: str) -> re.Pattern[str]:
    """A claim pattern as a whole word or phrase: no letter or digit may touch either end."""
    return re.compile(rf"(?<!\w)(?:{pattern})(?!\w)", re.IGNORECASE)


def text_pattern(text: str) -> str:
    """The pattern of a required text given literally: exact words, any case, any white space."""
    return r"\s+".join(re.escape(word) for word in squash(text).split(" "))


def for_claims(text: str) -> str:
    """What claim patterns are matched against: URLs blanked, then squashed."""
    return squash(without_urls(text))


def words_pattern(words: Sequence[str]) -> str:
    """Patterns (or words) that each match as a whole word or phrase, ignoring case, joined."""
    joined = "|".join(f"(?:{w})" for w in words)
    return rf"(?<!\w)(?:{joined})(?!\w)"
