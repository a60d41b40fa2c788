"""The R4 primitive values, each rule at its edge and with the message a client reads
(validation/primitives.py): written from the mutation run of that module (docs/testing.md)."""

from __future__ import annotations

import pytest

from fhir_server.validation.primitives import MAX_STRING_BYTES, check_primitive


@pytest.mark.parametrize(("kind", "value", "says"), [
    ("dateTime", "2024-03-01T10:00:00", "a time needs seconds and a time zone"),
    ("dateTime", "2024-03-01T10:00+08:00", "expected YYYY"),  # has a zone: the generic message
    ("dateTime", "2024-13-01", "expected YYYY"),
    ("dateTime", "2024-03-01t10:00:00Z", "expected YYYY"),
    ("dateTime", "2024-03-01t10:00:00", "expected YYYY"),  # no upper-case T: not a time
    ("instant", "2024-03-01T10:00:00", "needs a full date, time and time zone"),
    ("instant", "2024-03-01", "needs a full date, time and time zone"),
    ("instant", "2024-03-01T10:00+08:00", "expected YYYY-MM-DDThh:mm:ss"),
    ("instant", "2024-03-01T10:00:00z", "needs a full date, time and time zone"),
    ("time", "24:00:00", "expected hh:mm:ss"),
    ("time", "10:00", "expected hh:mm:ss"),
    ("id", "a b", "Invalid id"),
    ("code", " x", "Invalid code"),
    ("date", "2023-02-29", "2023-02-29 is not a calendar date: February 2023 has 28 days"),
    ("dateTime", "2023-04-31T10:00:00Z", "2023-04-31 is not a calendar date: April 2023 has 30 days"),
    ("base64Binary", "abc", "Invalid base64Binary"),
    ("base64Binary", "ab$=", "Invalid base64Binary"),
    ("integer", 2**31, "must be a 32-bit integer"),
    ("integer", -(2**31) - 1, "must be a 32-bit integer"),
    ("positiveInt", 0, "must be at least 1"),
    ("unsignedInt", -1, "must be at least 0"),
    ("integer", 1.5, "without a decimal point"),
    ("decimal", float("inf"), "NaN and Infinity"),
    ("decimal", float("nan"), "NaN and Infinity"),
    ("string", " \t", "Empty or whitespace-only string"),
    ("markdown", "a\x01b", "String contains control characters"),
    ("string", "a\x1fb", "String contains control characters"),
])
def test_refused_with_what_is_expected(kind, value, says):
    message = check_primitive(kind, value)
    assert message is not None and says in message


@pytest.mark.parametrize(("kind", "value"), [
    ("dateTime", "2024"), ("dateTime", "2024-03-01T10:00:00+08:00"), ("dateTime", "2024-02-29T23:59:60Z"),
    ("instant", "2024-03-01T10:00:00.123Z"), ("time", "23:59:59"), ("date", "2024-02-29"),
    ("integer", 2**31 - 1), ("integer", -(2**31)), ("positiveInt", 1), ("unsignedInt", 0),
    ("decimal", 1.5), ("base64Binary", "SGVsbG8="), ("base64Binary", "SGVs\nbG8="), ("markdown", "**粗体**"),
    ("string", "tab\tand\r\nnew lines"), ("id", "a" * 64), ("uri", "urn:uuid:x"),
])
def test_accepted(kind, value):
    assert check_primitive(kind, value) is None


def test_the_one_megabyte_limit_counts_utf8_bytes_exactly():
    assert check_primitive("string", "a" * MAX_STRING_BYTES) is None
    message = check_primitive("string", "a" * (MAX_STRING_BYTES + 1))
    assert message is not None and "1,048,577 bytes" in message and "as an Attachment" in message
    # 3 bytes a character: a quarter of a megabyte of characters is already over the limit
    assert check_primitive("markdown", "家" * (MAX_STRING_BYTES // 3 + 1)) is not None
    assert check_primitive("markdown", "家" * (MAX_STRING_BYTES // 3)) is None
    # 4 bytes a character: just over a quarter of a megabyte of characters
    assert check_primitive("string", "😀" * (MAX_STRING_BYTES // 4 + 1)) is not None
    assert check_primitive("string", "😀" * (MAX_STRING_BYTES // 4)) is None


def test_messages_quote_the_value():
    assert "'2024-13-01'" in check_primitive("date", "2024-13-01")
    assert "'24:00:00'" in check_primitive("time", "24:00:00")
    assert check_primitive("dateTime", "2023-02-30").startswith("2023-02-30 is not a calendar date")
    assert check_primitive("integer", 2**31) == f"Invalid integer {2**31}: must be a 32-bit integer"


def test_messages_start_with_what_is_wrong():
    assert check_primitive("string", " ").startswith("Empty or whitespace-only string: omit the element")
    assert check_primitive("string", "a\x00").startswith("String contains control characters")
    assert check_primitive("base64Binary", "abc").startswith("Invalid base64Binary: expected base64 text")
    assert check_primitive("string", "a" * (MAX_STRING_BYTES + 1)).endswith("send large content as an Attachment")
    # a lower-case z is no time zone
    assert "needs seconds and a time zone" in check_primitive("dateTime", "2024-03-01T10:00:00z")
