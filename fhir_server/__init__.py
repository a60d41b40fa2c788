"""Jiayi (家医): an HL7 FHIR R4 server for China's family-doctor contract services."""

__version__ = "0.1.0"
