"""Which files ``jiayi load`` reads: a folder's NDJSON (error files aside), or a manifest's outputs."""

from __future__ import annotations

import json

from fhir_server.bulk.load import export_files


def test_a_folder_and_a_manifest(tmp_path):
    for name in ("Patient-1.ndjson", "Patient-2.ndjson", "Observation-1.ndjson", "OperationOutcome-1.ndjson"):
        (tmp_path / name).write_text("")
    assert [p.name for p in export_files(tmp_path)] == ["Observation-1.ndjson", "Patient-1.ndjson",
                                                        "Patient-2.ndjson"]
    manifest = {"output": [{"type": "Patient", "url": "http://h/fhir/$export-file/ab/Patient-2.ndjson", "count": 1}],
                "error": [{"type": "OperationOutcome", "url": "http://h/fhir/$export-file/ab/OperationOutcome-1.ndjson"}]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert export_files(tmp_path / "manifest.json") == [tmp_path / "Patient-2.ndjson"]
