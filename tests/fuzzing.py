"""What the fuzz campaigns share: how many cases, what a Python name in a body looks like, header text."""

from __future__ import annotations

import os
import re

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("EC2PROXY_FUZZ_EXAMPLES", "3400"))  # x3 tests: over 10,000 cases


PYTHON_NAMES = re.compile(rb"Traceback|Exception|Error\(|File \"|line \d+|KeyError|TypeError|ValueError|AttributeError")


HEADER_CHARS = st.characters(min_codepoint=0x20, max_codepoint=0x7E)  # what HTTP can carry in a header


fuzz = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
