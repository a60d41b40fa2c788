"""Chinese national identifier check characters: GB 11643 居民身份证号 and GB 32100 统一社会信用代码.

GB 11643-1999 (公民身份号码): 6-digit address code (GB/T 2260) + birth date YYYYMMDD +
3-digit sequence (odd = male, even = female) + a check character computed with
ISO 7064 MOD 11-2 (weights 2^(18-i) mod 11, map ``10X98765432``).  The 15-digit numbers
issued before 1999 (address + YYMMDD + sequence, born in the 1900s) are upgraded by
inserting the century ``19`` and appending the check character.

GB 32100-2015 (统一社会信用代码, USCC): 17 characters from the 31-character set
``0123456789ABCDEFGHJKLMNPQRTUWXY`` (no I, O, S, V, Z) and a MOD 31 check character.

Pure Python, no dependencies: used by validation (profile invariants), the adapters
(legacy 15-digit numbers) and the demo generator.
"""

from __future__ import annotations

import datetime as _dt

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_MAP = "10X98765432"
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_VALUES = {c: i for i, c in enumerate(USCC_CHARSET)}
_FULL_WIDTH = str.maketrans("０１２３４５６７８９ｘＸ", "0123456789XX")


# --- GB 11643 居民身份证号 -------------------------------------------------------------

def id_check_digit(first17: str) -> str:
    """GB 11643 check character ('0'–'9' or 'X') of the first 17 digits of an ID number."""
    if len(first17) != 17 or not first17.isdigit() or not first17.isascii():
        raise ValueError(f"expected 17 ASCII digits, got {first17!r}")
    total = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_MAP[total % 11]


def normalize_id(number: str) -> str:
    """Trim, turn full-width digits and a lower-case 'x' into ASCII upper case (no upgrade)."""
    return number.strip().translate(_FULL_WIDTH).upper()


def _birth_date(yyyymmdd: str) -> _dt.date | None:
    try:
        return _dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return None


def id_problems(number: str, today: _dt.date | None = None) -> list[str]:
    """Every reason an 18-character ID number is not valid; empty when it is valid.

    Checks the format (17 digits + digit or 'X'), the embedded birth date (a real date,
    not before 1800, not after ``today`` when given) and the check character.
    """
    if len(number) != 18 or not number.isascii():
        return [f"an ID number has 18 characters, got {len(number)}"]
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        return ["an ID number is 17 digits followed by a digit or 'X'"]
    problems = []
    born = _birth_date(number[6:14])
    if born is None or born.year < 1800:
        problems.append(f"the birth date {number[6:14]} is not a valid date")
    elif today is not None and born > today:
        problems.append(f"the birth date {born.isoformat()} is in the future")
    expected = id_check_digit(number[:17])
    if number[17] != expected:
        problems.append(f"the check character is {number[17]!r}, expected {expected!r}")
    return problems


def is_valid_id(number: str, today: _dt.date | None = None) -> bool:
    """True when ``number`` is a valid 18-character GB 11643 ID number."""
    return not id_problems(number, today)


def upgrade_id15(number: str) -> str:
    """Upgrade a 15-digit legacy ID number to 18 characters (century 19 + check character)."""
    number = normalize_id(number)
    if len(number) != 15 or not number.isdigit():
        raise ValueError(f"a legacy ID number has 15 digits, got {number!r}")
    if _birth_date("19" + number[6:12]) is None:
        raise ValueError(f"the birth date 19{number[6:12]} in {number!r} is not a valid date")
    first17 = number[:6] + "19" + number[6:]
    return first17 + id_check_digit(first17)


def canonical_id(number: str) -> str:
    """The 18-character form of an ID number as people type it (full-width, 15-digit, 'x').

    Raises ``ValueError`` when the result is not a valid ID number.
    """
    number = normalize_id(number)
    if len(number) == 15:
        return upgrade_id15(number)
    problems = id_problems(number)
    if problems:
        raise ValueError(f"{number!r}: " + "; ".join(problems))
    return number


def _as_18(number: str) -> str:
    number = normalize_id(number)
    return upgrade_id15(number) if len(number) == 15 else number


def birth_date_from_id(number: str) -> _dt.date:
    """The birth date embedded in a 15- or 18-character ID number."""
    born = _birth_date(_as_18(number)[6:14])
    if born is None:
        raise ValueError(f"{number!r} has no valid birth date")
    return born


def sex_from_id(number: str) -> str:
    """'male' or 'female' (FHIR administrative-gender) from the sequence digit's parity."""
    return "male" if int(_as_18(number)[16]) % 2 else "female"


def make_id(area: str, birth: _dt.date, sequence: int, sex: str) -> str:
    """Build a valid 18-character ID number; ``sequence`` 0–499 picks the 3-digit sequence
    of the right parity for ``sex`` ('male' odd, 'female' even)."""
    if len(area) != 6 or not area.isdigit() or not 0 <= sequence < 500:
        raise ValueError("area is 6 digits and sequence 0..499")
    seq = sequence * 2 + (1 if sex == "male" else 0)
    first17 = f"{area}{birth:%Y%m%d}{seq:03d}"
    return first17 + id_check_digit(first17)


# --- GB 32100 统一社会信用代码 ----------------------------------------------------------

def uscc_check_char(first17: str) -> str:
    """GB 32100 check character of the first 17 characters of a 统一社会信用代码."""
    if len(first17) != 17:
        raise ValueError(f"expected 17 characters, got {first17!r}")
    try:
        total = sum(_USCC_VALUES[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    except KeyError as exc:
        raise ValueError(f"{exc.args[0]!r} is not in the GB 32100 character set") from None
    return USCC_CHARSET[(31 - total % 31) % 31]


def uscc_problems(code: str) -> list[str]:
    """Every reason a 统一社会信用代码 is not valid; empty when it is valid."""
    if len(code) != 18:
        return [f"a unified social credit code has 18 characters, got {len(code)}"]
    bad = sorted({c for c in code if c not in _USCC_VALUES})
    if bad:
        return [f"characters {''.join(bad)!r} are not in the GB 32100 character set"]
    if not code[2:8].isdigit():
        return ["characters 3–8 (the administrative division code) must be digits"]
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        return [f"the check character is {code[17]!r}, expected {expected!r}"]
    return []


def is_valid_uscc(code: str) -> bool:
    """True when ``code`` is a valid GB 32100 统一社会信用代码."""
    return not uscc_problems(code)


def make_uscc(first17: str) -> str:
    """Append the check character to 17 characters."""
    return first17 + uscc_check_char(first17)
