"""One module per search-parameter type (FHIR R4 §3.1.1.4), registered by its type code.

Each module owns how its type is indexed and how it is queried, in both engines:

- ``TABLE``: its index table; ``MODIFIERS``: the modifiers it accepts;
- ``index_rows(node) -> list[dict]``: index rows (column → value) for one expression result;
- ``parse(raw, modifier) -> value``: one OR-alternative of a query value, as a frozen dataclass
  (raises :class:`~fhir_server.search.values.ValueError_` when malformed);
- ``condition(table, value, modifier)``: the SQL condition on one index row;
- ``matches(row, value, modifier) -> bool``: the same test in Python, for the in-memory twin;
- ``SORT_COLUMNS``: (column whose minimum sorts ascending, column whose maximum sorts descending).

Changing the semantics of a type touches only its module.
"""

from fhir_server.search.params import composite, date, number, quantity, reference, string, token, uri

KINDS = {
    "token": token,
    "string": string,
    "reference": reference,
    "date": date,
    "number": number,
    "quantity": quantity,
    "uri": uri,
    "composite": composite,
}
