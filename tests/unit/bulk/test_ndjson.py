"""The NDJSON files of one type: split by size, resumed at a checkpoint without losing or
repeating a line."""

from __future__ import annotations

from fhir_server.bulk.ndjson import Position, TypeFiles, line


def _lines(n: int, start: int = 0) -> list[bytes]:
    return [f'{{"resourceType":"Patient","id":"p{i:03d}"}}\n'.encode() for i in range(start, start + n)]


def _all(folder, files) -> list[bytes]:
    return [raw for name, _ in files for raw in (folder / name).read_bytes().splitlines(keepends=True)]


def test_split_at_the_size_limit(tmp_path):
    writer = TypeFiles(tmp_path, "Patient", 100)
    for data in _lines(10):
        writer.write(data)
    files = writer.close()
    assert all((tmp_path / name).stat().st_size <= 100 for name, _ in files)
    assert sum(count for _, count in files) == 10 and len(files) == 5
    assert _all(tmp_path, files) == _lines(10)


def test_a_line_longer_than_the_limit_gets_a_file_of_its_own(tmp_path):
    writer = TypeFiles(tmp_path, "Patient", 10)
    for data in _lines(3):
        writer.write(data)
    assert [count for _, count in writer.close()] == [1, 1, 1]


def test_resume_cuts_back_what_was_written_after_the_checkpoint(tmp_path):
    writer = TypeFiles(tmp_path, "Patient", 100)
    for data in _lines(3):
        writer.write(data)
    checkpoint = Position.from_json(writer.sync().to_json())
    for data in _lines(4, start=3):  # written, then the worker dies before its checkpoint
        writer.write(data)
    writer.sync()
    writer.close()  # what a dead process leaves: the lines on disk
    resumed = TypeFiles(tmp_path, "Patient", 100, checkpoint)
    for data in _lines(7, start=3):
        resumed.write(data)
    assert _all(tmp_path, resumed.close()) == _lines(10)


def test_decimals_are_written_as_they_were_sent():
    stored = '{"resourceType":"Observation","valueQuantity":{"value":1.50},"jiayi:decimals":[]}'
    assert line(stored) == b'{"resourceType":"Observation","valueQuantity":{"value":1.50}}\n'
    assert line('{"a":1}') == b'{"a":1}\n'
