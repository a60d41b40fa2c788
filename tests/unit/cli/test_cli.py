"""The ``jiayi`` command without a server: db upgrade, validate."""

from __future__ import annotations

import json

from click.testing import CliRunner

from fhir_server.cli import main


def test_db_upgrade_creates_the_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    result = CliRunner().invoke(main, ["db", "upgrade", "--database", url])
    assert result.exit_code == 0, result.output
    from alembic.script import ScriptDirectory

    from fhir_server.storage.migrate import MIGRATIONS

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert "schema at revision" in result.output and str(head) in result.output


def test_validate_exit_codes(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"resourceType": "Patient", "gender": "male"}))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"resourceType": "Patient", "gender": "man", "birthDate": "2020-02-30"}))
    runner = CliRunner()
    assert runner.invoke(main, ["validate", str(good)]).exit_code == 0
    failed = runner.invoke(main, ["validate", str(bad)])
    assert failed.exit_code == 1
    assert "Patient.gender" in failed.output and "Patient.birthDate" in failed.output


def test_help_lists_commands():
    result = CliRunner().invoke(main, ["--help"])
    assert all(name in result.output for name in ("serve", "db", "demo", "validate"))
