"""TierII compliance rule packs for US cannabis marketing.

The packs are TOML files (``tierii_cannabis/packs/*.toml``, and your own in
``TIERII_CANNABIS_PACK_DIR``); :mod:`tierii_cannabis.plugin` turns each into a compliance rule
selected by name with ``--rules``. Another plugin can ship packs too::

    from tierii_cannabis import rules_from

    @hookimpl
    def tierii_compliance_rules():
        return rules_from(Path(__file__).parent / "packs")
"""

from __future__ import annotations

from tierii_cannabis.plugin import rules_from

__version__ = "0.1.0"

__all__ = ["__version__", "rules_from"]
