"""``jiayi token``: a development token for demos and tests (SPEC Appendix A "Security")."""

from __future__ import annotations

import click

from fhir_server.config import DEFAULT_DATABASE


@click.command(help="Print a bearer token signed by the development key that 'jiayi serve --demo' "
                    "configures (for demos and tests only; no real deployment trusts it).")
@click.option("--fhir-user", "fhir_user", required=True,
              help="Practitioner/<id>, Patient/<id> or RelatedPerson/<id>; a client id for system/ scopes.")
@click.option("--scope", required=True, help='SMART scopes, space-separated: "user/*.cruds", "patient/*.rs".')
@click.option("--patient", default=None, help="The patient/ launch context (a Patient id).")
@click.option("--region", default=None, help="jiayi_region: Organization/<id> of a public-health role.")
@click.option("--client-id", "client_id", default="jiayi-dev-cli", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int, help="The server's port (the audience).")
@click.option("--audience", default=None, help="The audience (default: http://127.0.0.1:PORT/fhir and localhost).")
@click.option("--lifetime", default=3600, show_default=True, type=int, help="Seconds until the token expires.")
@click.option("--database", envvar="JIAYI_DATABASE_URL", default=DEFAULT_DATABASE, show_default=True,
              help="The database 'jiayi serve --demo' serves (its development key is kept beside it).")
def token(fhir_user: str, scope: str, patient: str | None, region: str | None, client_id: str, port: int,
          audience: str | None, lifetime: int, database: str) -> None:
    from fhir_server.auth import dev_issuer

    claims: dict = {"sub": fhir_user, "scope": scope, "client_id": client_id,
                    "aud": [audience] if audience else [f"http://127.0.0.1:{port}/fhir",
                                                        f"http://localhost:{port}/fhir"]}
    if "/" in fhir_user:
        claims["fhirUser"] = fhir_user
    if patient:
        claims["patient"] = patient.removeprefix("Patient/")
    if region:
        claims["jiayi_region"] = region
    try:
        click.echo(dev_issuer.issue(database, claims, lifetime))
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None
