"""The template engine contract: compile once, render per contact, strict about missing values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tierii_core.components import CompiledTemplate, TemplateEngine
from tierii_core.errors import MissingVariable, TemplateError
from tierii_core.testing.contracts.base import ComponentContract, _needed

ORIGIN = "contract.template:1"


class TemplateEngineContract(ComponentContract):
    """Checks for a :class:`~tierii_core.components.TemplateEngine`.

    Fixtures to provide: ``component_class``, ``plugin``, ``template_filename`` (a file name
    the engine claims, ``welcome.mustache``), ``template_for`` (``name -> source`` rendering
    that variable alone, ``lambda name: "{{" + name + "}}"``), ``broken_template`` (source
    with a syntax error); optionally ``component_settings``.
    """

    kind = TemplateEngine
    kind_key = "engine"

    @pytest.fixture
    def template_filename(self) -> str:
        return _needed("template_filename", "a template file name the engine claims")

    @pytest.fixture
    def template_for(self) -> Callable[[str], str]:
        return _needed("template_for", "a function: variable name -> template source rendering it")

    @pytest.fixture
    def broken_template(self) -> str:
        return _needed("broken_template", "template source with a syntax error")

    @pytest.fixture
    def engine(self, component_class: type[TemplateEngine], component_settings: Any) -> TemplateEngine:
        return component_class(component_settings)

    def test_claims_its_files(self, component_class: type[TemplateEngine], template_filename: str) -> None:
        assert component_class.claims(template_filename), (
            f"{component_class.__name__}.patterns {component_class.patterns} "
            f"do not claim {template_filename!r}"
        )

    def test_renders_a_variable_and_keeps_the_text_around_it(
        self, engine: TemplateEngine, template_for: Callable
    ) -> None:
        compiled = engine.compile(
            f"Hi {template_for('first_name')}!\nSee you.\n", origin=ORIGIN, escape_html=False
        )
        assert isinstance(compiled, CompiledTemplate)
        assert compiled.render({"first_name": "Zoë"}) == "Hi Zoë!\nSee you.\n"

    def test_compiled_once_rendered_many_times(self, engine: TemplateEngine, template_for: Callable) -> None:
        compiled = engine.compile(template_for("first_name"), origin=ORIGIN, escape_html=False)
        names = ["Ann", "Bob", "Zoë", "Ann"]
        assert [compiled.render({"first_name": n}) for n in names] == names

    def test_missing_variable_is_an_error_naming_it(
        self, engine: TemplateEngine, template_for: Callable
    ) -> None:
        compiled = engine.compile(f"Hi {template_for('first_name')}", origin=ORIGIN, escape_html=False)
        with pytest.raises(MissingVariable) as caught:
            compiled.render({"email": "ann@example.com", "last_name": "Lee"})
        assert caught.value.variable == "first_name", "MissingVariable must name the variable"

    def test_values_are_escaped_only_for_html(self, engine: TemplateEngine, template_for: Callable) -> None:
        value = '<b>"Tom & Jerry"</b>'
        text = engine.compile(template_for("name"), origin=ORIGIN, escape_html=False)
        html = engine.compile(template_for("name"), origin=ORIGIN, escape_html=True)
        assert text.render({"name": value}) == value, "plain text must show values as they are"
        escaped = html.render({"name": value})
        assert "<b>" not in escaped and "&amp;" in escaped and "&lt;b&gt;" in escaped, (
            f"an HTML template must escape values: got {escaped!r}"
        )

    def test_syntax_error_is_a_template_error_naming_the_origin(
        self, engine: TemplateEngine, broken_template: str
    ) -> None:
        with pytest.raises(TemplateError) as caught:
            engine.compile(broken_template, origin=ORIGIN, escape_html=False)
        assert ORIGIN in str(caught.value), f"{caught.value}: name the origin ({ORIGIN})"
