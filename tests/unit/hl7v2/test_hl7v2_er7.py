"""ER7 parsing: delimiters from MSH, escapes, repetitions/components/subcomponents, character
sets named in MSH-18, segment endings, versions."""

from __future__ import annotations

import pytest

from adapters.hl7v2 import er7
from adapters.hl7v2.errors import HL7Error

HEADER = "MSH|^~\\&|APP|FAC|JIAYI|JIAYI|20261201093000||ADT^A04|C1|P|2.5"


def test_components_repetitions_subcomponents_and_escapes():
    msg = er7.parse(HEADER + "\rPID|1||A1^^^HOSP&1.2.3&ISO^MR~B2^^^^NI||张^三\\T\\丰||19500304|M|||"
                             "a\\F\\b\\S\\c\\R\\d\\E\\e\\X41\\f\r")
    pid = msg.first("PID")
    assert pid.get(3) == "A1" and pid.get(3, 4, 1, 2) == "1.2.3" and pid.get(3, 4, 1, 3) == "ISO"
    assert pid.get(3, 1, 2) == "B2" and pid.get(3, 5, 2) == "NI"
    assert len(pid.reps(3)) == 2
    assert pid.get(5, 2) == "三&丰"
    assert pid.get(11) == "a|b^c~d\\eAf"


def test_delimiters_declared_in_msh_are_used():
    msg = er7.parse("MSH#$*!@#APP#FAC#JIAYI#JIAYI#20261201##ADT$A08#C2#P#2.4\rPID#1##X9$$$AUTH$MR*Y8##王$五@六#")
    assert msg.type == "ADT^A08" and msg.control_id == "C2"
    pid = msg.first("PID")
    assert pid.get(3) == "X9" and pid.get(3, 4) == "AUTH" and pid.get(3, 1, 2) == "Y8"
    assert pid.get(5, 2, 1, 1) == "五" and pid.get(5, 2, 1, 2) == "六"


@pytest.mark.parametrize("ending", ["\r", "\n", "\r\n"])
def test_any_segment_ending(ending):
    text = ending.join([HEADER, "EVN|A04", "PID|1||X1^^^^MR||李^四", "PV1|1|O"]) + ending
    msg = er7.parse(text.encode("utf-8"))
    assert [s.id for s in msg.segments] == ["MSH", "EVN", "PID", "PV1"]
    assert msg.first("PID").get(5, 1) == "李"


@pytest.mark.parametrize("charset,codec", [("GB 18030-2000", "gb18030"), ("GBK", "gbk"), ("UNICODE UTF-8", "utf-8"),
                                           ("", "utf-8"), ("GB2312", "gb2312")])
def test_character_set_of_msh_18_decodes_the_bytes(charset, codec):
    text = HEADER + f"||||||{charset}\rPID|1||X1^^^^MR||欧阳^娜||||||浙江省杭州市西湖区\r"
    msg = er7.parse(text.encode(codec))
    assert msg.codec == codec
    assert msg.first("PID").get(5, 1) == "欧阳" and msg.first("PID").get(11) == "浙江省杭州市西湖区"


def test_gb18030_bytes_declared_as_utf8_are_refused_naming_msh_18():
    text = HEADER + "||||||UNICODE UTF-8\rPID|1||X1||欧阳^娜\r"
    with pytest.raises(HL7Error) as caught:
        er7.parse(text.encode("gb18030"))
    assert caught.value.ack_code == "AR"
    assert str(caught.value.problems[0].location) == "MSH-18"


def test_unknown_character_set_is_refused():
    with pytest.raises(HL7Error) as caught:
        er7.parse((HEADER + "||||||EBCDIC\r").encode())
    assert caught.value.problems[0].code == "103"


def test_utf8_bom_is_ignored():
    assert er7.parse(b"\xef\xbb\xbf" + HEADER.encode() + b"\r").control_id == "C1"


@pytest.mark.parametrize("version,ok", [("2.3", True), ("2.3.1", True), ("2.4", True), ("2.5.1", True), ("2.6", True),
                                        ("2.7", True), ("2.7.1", True), ("2.8", True), ("2.2", False), ("3.0", False),
                                        ("", False)])
def test_versions(version, ok):
    msg = er7.parse(HEADER.replace("|2.5", f"|{version}") + "\r")
    if ok:
        msg.check_version()
    else:
        with pytest.raises(HL7Error) as caught:
            msg.check_version()
        assert caught.value.problems[0].code == "203"


@pytest.mark.parametrize("text", ["", "PID|1", "MSH", "MSH|^~\\&\r12X|bad"])
def test_garbage_is_refused_not_crashed(text):
    with pytest.raises(HL7Error) as caught:
        er7.parse(text.encode())
    assert caught.value.ack_code == "AR"


def test_escape_round_trip():
    value = "a|b^c~d\\e&f\n第二行"
    segment = er7.build_segment("NTE", "1", "", value)
    msg = er7.parse(HEADER + "\r" + segment + "\r")
    assert msg.first("NTE").get(3) == value
