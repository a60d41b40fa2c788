"""PHI-safe logs: ID numbers, phone numbers and names never reach a log line."""

from __future__ import annotations

import logging

from fhir_server.auth.masking import PhiFilter, mask


def test_identifier_searches_are_masked():
    line = '127.0.0.1 - - "GET /fhir/Patient?identifier=urn:oid:2.16.156.10011.1.3|11010519491231002X&_count=1"'
    masked = mask(line)
    assert "110105" not in masked and "identifier=***" in masked and "_count=1" in masked


def test_names_in_any_spelling_are_masked():
    for query in ("?family=%E7%8E%8B", "?name:pinyin=wangxiuying", "?subject:Patient.name=王秀英",
                  "?given=秀英&gender=female", "?phone=13912345678", "?address-city=北京"):
        masked = mask(f"GET /fhir/Patient{query}")
        assert "***" in masked and "王" not in masked and "%E7" not in masked and "wangxiuying" not in masked
    assert "gender=female" in mask("GET /fhir/Patient?given=秀英&gender=female")


def test_long_numbers_anywhere_are_masked():
    assert mask("resident 110105194912310021 called from 13912345678 or 010-62345678") == \
        "resident *** called from *** or ***"
    assert mask("took 12 ms, status 200, year 2026") == "took 12 ms, status 200, year 2026"


def test_the_filter_masks_a_records_arguments():
    record = logging.LogRecord("jiayi", logging.INFO, __file__, 1, "card %s of %s", ("110105194912310021", "x"), None)
    assert PhiFilter().filter(record) and record.getMessage() == "card *** of x"
