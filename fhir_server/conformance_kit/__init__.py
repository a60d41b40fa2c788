"""The vendor conformance kit (``jiayi conformance``): a FHIR R4 TestScript engine that runs the
IG's TestScripts (profiles/tests/) against a vendor's server and reports like a certification lab
(TestReport, JUnit XML, one HTML file); and, the other way round, a sandbox that checks a
vendor's client (``listen``)."""
