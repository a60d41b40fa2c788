"""The development issuer: `jiayi token` signs with the key `jiayi serve --demo` makes beside
the database; the server's verifier accepts it, and nothing else does."""

from __future__ import annotations

from click.testing import CliRunner

from fhir_server.auth import dev_issuer
from fhir_server.auth.principal import Principal
from fhir_server.auth.tokens import TokenVerifier
from fhir_server.cli import main


def test_a_token_from_the_cli_verifies_against_the_demo_key_set(tmp_path):
    database = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    jwks = dev_issuer.ensure_keys(database)
    assert jwks.parent == tmp_path and oct(dev_issuer.key_files(database)[0].stat().st_mode)[-3:] == "600"
    result = CliRunner().invoke(main, ["token", "--fhir-user", "Practitioner/doc-1", "--scope", "user/*.cruds",
                                       "--region", "Organization/org-9", "--database", database])
    assert result.exit_code == 0, result.output
    claims = TokenVerifier(str(jwks), dev_issuer.ISSUER).verify(result.output.strip(),
                                                                 default_audience="http://localhost:8080/fhir")
    principal = Principal.from_claims(claims)
    assert principal.practitioner == "doc-1" and principal.region == "org-9"


def test_no_key_no_token(tmp_path):
    result = CliRunner().invoke(main, ["token", "--fhir-user", "Patient/1", "--scope", "patient/*.rs",
                                       "--database", f"sqlite:///{tmp_path / 'none.sqlite3'}"])
    assert result.exit_code != 0 and "jiayi serve --demo" in result.output
