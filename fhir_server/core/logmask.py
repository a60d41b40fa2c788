"""Personal numbers out of log lines (SPEC §6: "ID numbers never appear in plain text in logs").

A URL such as ``Patient?identifier=urn:oid:2.16.156.10011.1.3|110101199003071234`` or
``?phone=13812345678`` reaches the access log as it was sent; these patterns are masked there
(the last four digits kept, as on a printed receipt).  SQL error logs never carry the values
(the engines hide bound parameters).
"""

from __future__ import annotations

import re

# 身份证 (18 characters, the last a digit or X; 15 digits before 1999), mobile phones (1[3-9] + 9 digits)
_PERSONAL = re.compile(r"(?<![0-9])(?:[0-9]{17}[0-9Xx]|[0-9]{15}|1[3-9][0-9]{9})(?![0-9])")


def mask_personal_numbers(text: str) -> str:
    return _PERSONAL.sub(lambda m: "*" * (len(m[0]) - 4) + m[0][-4:], text)
