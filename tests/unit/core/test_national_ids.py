"""GB 11643 居民身份证号 and GB 32100 统一社会信用代码 check characters (fhir_server.core.national_ids).

All numbers are constructed for these tests (area code 99xxxx does not exist in GB/T 2260);
the weighted sums in the comments can be re-checked by hand.
"""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fhir_server.core import national_ids as ni

# (first 17 digits, Σ aᵢ·Wᵢ, check character = "10X98765432"[Σ mod 11])
ID_CASES = [
    ("99010219000101000", 182, "6"),  # 182 mod 11 = 6
    ("99010219800101001", 232, "0"),  # 232 mod 11 = 1
    ("99010219800101007", 244, "X"),  # 244 mod 11 = 2
    ("99010219751231002", 289, "9"),  # 289 mod 11 = 3
    ("99990119500615013", 423, "7"),  # 423 mod 11 = 5
    ("99010220000229004", 252, "2"),  # 252 mod 11 = 10
]


@pytest.mark.parametrize("first17, weighted_sum, check", ID_CASES)
def test_id_check_digit(first17, weighted_sum, check):
    assert sum(int(c) * w for c, w in zip(first17, ni.ID_WEIGHTS, strict=True)) == weighted_sum
    assert ni.id_check_digit(first17) == check
    assert ni.is_valid_id(first17 + check)


@pytest.mark.parametrize("number, fragment", [
    ("990102198001010011", "check character is '1', expected '0'"),
    ("99010219800101001", "18 characters"),
    ("99010219800101001A", "17 digits followed by"),
    ("99010219810229001X", "not a valid date"),  # 1981 is not a leap year
    ("990102198013010010", "not a valid date"),
    ("99010217000101001X", "not a valid date"),  # before 1800
])
def test_id_problems(number, fragment):
    problems = ni.id_problems(number)
    assert problems and any(fragment in p for p in problems), problems


def test_id_in_the_future_only_when_today_given():
    number = "9901022099010100" + "1"
    number += ni.id_check_digit(number)
    assert ni.is_valid_id(number)
    assert "in the future" in ni.id_problems(number, today=dt.date(2026, 11, 23))[0]


def test_upgrade_legacy_15_digit_number():
    assert ni.upgrade_id15("990102800101001") == "990102198001010010"
    assert ni.upgrade_id15("９９０１０２８００１０１００１") == "990102198001010010"
    with pytest.raises(ValueError):
        ni.upgrade_id15("990102810229001")  # 1981-02-29
    with pytest.raises(ValueError):
        ni.upgrade_id15("99010280010100")


def test_canonical_id_accepts_what_people_type():
    assert ni.canonical_id(" 99010219800101007x ") == "99010219800101007X"
    assert ni.canonical_id("990102800101001") == "990102198001010010"
    with pytest.raises(ValueError, match="check character"):
        ni.canonical_id("990102198001010011")


@pytest.mark.parametrize("number, born, sex", [
    ("990102198001010010", dt.date(1980, 1, 1), "male"),  # sequence 001: odd
    ("99010219751231002" + "9", dt.date(1975, 12, 31), "female"),  # 002: even
    ("990102800101001", dt.date(1980, 1, 1), "male"),  # legacy form
])
def test_birth_date_and_sex(number, born, sex):
    assert ni.birth_date_from_id(number) == born
    assert ni.sex_from_id(number) == sex


@given(st.dates(dt.date(1900, 1, 1), dt.date(2026, 12, 31)), st.integers(0, 499),
       st.sampled_from(["male", "female"]))
def test_make_id_round_trips(born, sequence, sex):
    number = ni.make_id("990102", born, sequence, sex)
    assert ni.is_valid_id(number)
    assert ni.birth_date_from_id(number) == born and ni.sex_from_id(number) == sex


# (first 17 characters, Σ vᵢ·Wᵢ, check = charset[(31 − Σ mod 31) mod 31])
USCC_CASES = [
    ("00000000000000000", 0, "0"),
    ("12990102MB9900001", 1500, "K"),  # 1500 mod 31 = 12 → charset[19]
    ("91990102MA0000000", 1106, "A"),  # 1106 mod 31 = 21 → charset[10]
    ("11990102MB1234567", 1724, "C"),  # 1724 mod 31 = 19 → charset[12]
]


@pytest.mark.parametrize("first17, weighted_sum, check", USCC_CASES)
def test_uscc_check_char(first17, weighted_sum, check):
    values = [ni.USCC_CHARSET.index(c) for c in first17]
    assert sum(v * w for v, w in zip(values, ni.USCC_WEIGHTS, strict=True)) == weighted_sum
    assert ni.uscc_check_char(first17) == check
    assert ni.make_uscc(first17) == first17 + check
    assert ni.is_valid_uscc(first17 + check)


@pytest.mark.parametrize("code, fragment", [
    ("12990102MB9900001J", "expected 'K'"),
    ("12990102MB990000", "18 characters"),
    ("12990102MO9900001K", "not in the GB 32100 character set"),  # O is excluded
    ("12A90102MB9900001K", "administrative division"),
])
def test_uscc_problems(code, fragment):
    assert any(fragment in p for p in ni.uscc_problems(code))


def test_uscc_check_char_rejects_bad_input():
    with pytest.raises(ValueError):
        ni.uscc_check_char("12990102MB99000I1")
    with pytest.raises(ValueError):
        ni.id_check_digit("9901021980010100")
