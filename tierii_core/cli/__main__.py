"""``python -m tierii_core.cli``: the ``tierii`` command."""

from tierii_core.cli import main

main()
