"""Public-health records adapter (基本公共卫生服务信息系统 ↔ FHIR), SPEC §5.

Python API::

    from adapters.publichealth import import_file, export_file, read_records, schema
    result = import_file("residents.csv", "resident", "http://127.0.0.1:8080/fhir")
    print(result.summary(), result.errors)
    export_file("resident", "http://127.0.0.1:8080/fhir", "out.xlsx")

The forms, their columns, the code lists and the FHIR targets are the tables of
``mappings/publichealth/``; see the README section "Public-health records adapter".
"""

from .exporter import export_file, fetch
from .importer import ImportResult, RowError, import_file, read_records
from .normalise import normalise as normalise_record
from .tables import RECORD_TYPES, form, schema

__all__ = ["RECORD_TYPES", "ImportResult", "RowError", "export_file", "fetch", "form", "import_file",
           "normalise_record", "read_records", "schema"]
