#!/usr/bin/env bash
# The "Write your first plugin" tutorial (docs/plugins.md), command for command: the page
# includes its sections, and tests/test_tutorial.py runs this file in a fresh folder (with
# tierii-core installed from the checkout instead of PyPI), so the tutorial keeps working.
set -euo pipefail

# [start:venv]
python3 -m venv .venv
. .venv/bin/activate
pip install "tierii-core[test]"
# [end:venv]

# [start:new]
tierii plugins new crm
cd tierii-crm
# [end:new]

# [start:install]
tierii install -e '.[test]'
tierii plugins
# [end:install]

# [start:test]
pytest
# [end:test]

# [start:try]
cat > contacts.jsonl <<'JSONL'
{"email": "ann@example.com", "first_name": "Ann"}
{"email": "zoe@example.org", "first_name": "Zoë"}
{"email": "not an address", "first_name": "Nobody"}
JSONL
cat > hello.mustache <<'MUSTACHE'
Subject: Hello {{first_name}}
From: Green Leaf <hello@greenleaf.example>

Hi {{first_name}}!
MUSTACHE
TIERII_TRANSACTIONAL=true tierii preview contacts.jsonl -t hello.mustache -n 3
# [end:try]
