"""The assessment measures (考核指标, SPEC §1): Measure resources and ``$evaluate-measure``."""

from fhir_server.familydoctor.measures.catalog import BY_ID, BY_URL, MEASURES, all_measures
from fhir_server.familydoctor.measures.index_snapshot import index_snapshot
from fhir_server.familydoctor.measures.kept import KeptReports
from fhir_server.familydoctor.measures.operation import OPERATIONS, evaluate, operations
from fhir_server.familydoctor.measures.snapshot import DistrictSnapshot, Period

__all__ = ["BY_ID", "BY_URL", "MEASURES", "OPERATIONS", "DistrictSnapshot", "KeptReports", "Period", "all_measures",
           "evaluate", "index_snapshot", "operations"]
