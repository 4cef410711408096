"""The ``mustache`` template engine: chevron, made strict.

chevron renders a missing key as "" and HTML-escapes every ``{{x}}``. Here a variable that
has no value for a contact fails that contact (:class:`MissingVariable`), and values are
escaped only in HTML templates. Templates are tokenised once; each contact only renders.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import chevron
from chevron.tokenizer import ChevronError, tokenize

from tierii_core import hookimpl
from tierii_core.components import CompiledTemplate, TemplateEngine
from tierii_core.errors import MissingVariable, TemplateError

_VALUE_TAGS = {"variable", "no escape"}
_SECTION_TAGS = {"section", "inverted section"}


class MustacheTemplate(CompiledTemplate):
    def __init__(self, tokens: list[tuple[str, str]], origin: str, partials_path: str) -> None:
        self.tokens = tokens
        self.origin = origin
        self.partials_path = partials_path
        self.values = _top_level(tokens, _VALUE_TAGS)
        self.sections = _top_level(tokens, _SECTION_TAGS) - self.values
        self.is_static = not any(tag != "literal" for tag, _ in tokens)
        self.text = "".join(key for _, key in tokens) if self.is_static else ""

    def render(self, context: Mapping[str, Any]) -> str:
        if self.is_static:
            return self.text
        for name in self.values:
            if context.get(name) is None:
                raise MissingVariable(name, self.origin)
        for name in self.sections:
            if name not in context:
                raise MissingVariable(name, self.origin)
        return chevron.render(self.tokens, context, partials_path=self.partials_path)


def _top_level(tokens: list[tuple[str, str]], tags: set[str]) -> frozenset[str]:
    """The context keys the tags refer to (``a`` for ``a.b``; ``.`` is the current item)."""
    return frozenset(key.split(".", 1)[0] for tag, key in tokens if tag in tags and key != ".")


class Mustache(TemplateEngine):
    """Mustache templates (chevron), strict about missing variables."""

    name = "mustache"
    patterns = ("*.mustache", "*.mustache.txt", "*.ms")

    def compile(self, source: str, *, origin: str, escape_html: bool) -> CompiledTemplate:
        try:
            tokens = list(tokenize(source))
        except ChevronError as exc:
            raise TemplateError(f"{origin}: mustache syntax error: {exc}") from None
        if not escape_html:
            tokens = [("no escape" if tag == "variable" else tag, key) for tag, key in tokens]
        directory = str(Path(origin.rsplit(":", 1)[0]).parent) if origin else "."
        for tag, key in tokens:
            if tag == "partial" and not (Path(directory) / f"{key}.mustache").is_file():
                raise TemplateError(f"{origin}: partial '{key}' not found ({directory}/{key}.mustache)")
        return MustacheTemplate(tokens, origin, directory)


@hookimpl
def tierii_template_engines() -> list[type[TemplateEngine]]:
    return [Mustache]
