"""The contract suite of tierii_core.testing: everything TierII relies on from a contact source."""

from __future__ import annotations

import itertools
import json

import pytest

from tierii_core.testing import ContactSourceContract
from tierii_skeleton import plugin as skeleton_plugin
from tierii_skeleton.source import SkeletonSource


class TestSkeletonSourceContract(ContactSourceContract):
    @pytest.fixture
    def component_class(self):
        return SkeletonSource

    @pytest.fixture
    def plugin(self):
        return skeleton_plugin

    @pytest.fixture
    def make_location(self, tmp_path):
        """Write the records where the source reads them; return the location."""
        numbers = itertools.count(1)

        def make(records):
            path = tmp_path / f"contacts-{next(numbers)}.jsonl"
            with path.open("w", encoding="utf-8") as file:
                for record in records:
                    file.write(json.dumps(record, ensure_ascii=False) + "\n")
            return str(path)

        return make

    @pytest.fixture
    def missing_location(self, tmp_path):
        return str(tmp_path / "missing.jsonl")
