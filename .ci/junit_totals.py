"""Print one line with the test counts of every tox env's JUnit XML: 'N passed, N failed, N skipped'."""

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

passed = failed = skipped = 0
for path in sorted(Path(sys.argv[1]).glob("*/junit-*.xml")) + sorted(Path(sys.argv[1]).glob("junit-*.xml")):
    for suite in ET.parse(path).getroot().iter("testsuite"):
        tests, fail, err, skip = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
        passed += tests - fail - err - skip
        failed += fail + err
        skipped += skip
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
