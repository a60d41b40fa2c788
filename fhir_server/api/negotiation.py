"""Content negotiation (R4 http §mime-type, §general): which format a body is in, which format
the client wants back (``_format`` wins over ``Accept``), and parsing bodies safely."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fhir_server.core import jsonio
from fhir_server.core.errors import BadRequest, NotAcceptable, UnsupportedMediaType
from fhir_server.formats.xml import xml_to_resource

JSON = "application/fhir+json"
XML = "application/fhir+xml"
_FORMAT_ALIASES = {
    "json": JSON, "application/json": JSON, "application/fhir+json": JSON, "text/json": JSON,
    "xml": XML, "text/xml": XML, "application/xml": XML, "application/fhir+xml": XML,
    "html": JSON, "text/html": JSON,  # browsers: JSON is the readable answer here
}
JSON_BODY = {"application/fhir+json", "application/json", "text/json", "application/json-patch+json"}
XML_BODY = {"application/fhir+xml", "application/xml", "text/xml"}
FORM = "application/x-www-form-urlencoded"
UTF8_BOM = b"\xef\xbb\xbf"


def mime_base(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def response_format(format_param: str | None, accept: str | None) -> str:
    """The media type to answer in: ``_format`` first, then ``Accept``, JSON by default."""
    if format_param:
        chosen = _FORMAT_ALIASES.get(mime_base(format_param.replace(" ", "+")))
        if chosen is None:
            raise NotAcceptable(f"_format '{format_param}' is not supported; use json or xml")
        return chosen
    if not accept:
        return JSON
    for part in accept.split(","):
        base = mime_base(part)
        if base in _FORMAT_ALIASES:
            return _FORMAT_ALIASES[base]
        if base in ("*/*", "application/*", "text/*", ""):
            return JSON
    raise NotAcceptable(f"None of the media types in Accept '{accept}' is supported; "
                        "use application/fhir+json or application/fhir+xml")


def parse_body(data: bytes, content_type: str | None, max_depth: int) -> object:
    """The body as JSON-shaped data (dict, or a list for JSON Patch); None when empty."""
    data = data.removeprefix(UTF8_BOM)  # a UTF-8 byte-order mark says nothing about the format: look after it
    if not data or not data.strip():
        return None
    base = mime_base(content_type)
    if base in JSON_BODY or (base == "" and data.lstrip()[:1] in (b"{", b"[")):
        return jsonio.loads(data, max_depth)
    if base in XML_BODY or (base == "" and data.lstrip()[:1] == b"<"):
        resource = xml_to_resource(data)
        jsonio.check_depth(resource, max_depth)
        return resource
    if base == FORM:
        return None
    raise UnsupportedMediaType(f"Content-Type '{content_type}' is not supported; send application/fhir+json "
                               "or application/fhir+xml")


def form_items(data: bytes) -> list[tuple[str, str]]:
    """POST [type]/_search with an application/x-www-form-urlencoded body."""
    try:
        return parse_qsl(data.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise BadRequest("The form body is not valid UTF-8", code="structure") from None
