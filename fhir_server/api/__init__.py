"""Flask only: HTTP in, HTTP out."""

from fhir_server.api.blueprint import register

__all__ = ["register"]
