"""End-to-end tests: a real ``jiayi serve`` process and real FHIR client libraries."""
