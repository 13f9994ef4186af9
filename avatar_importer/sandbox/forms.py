"""Request bodies as form fields: multipart/form-data, urlencoded or a JSON object; and the
checks on uploaded photos and JSON-valued fields shared by both emulated APIs."""

from __future__ import annotations

import email.parser
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from .errors import ApiError


@dataclass
class Field:
    value: bytes
    filename: str | None = None

    def text(self) -> str:
        return self.value.decode("utf-8", errors="replace")


def parse_form(content_type: str, body: bytes) -> dict[str, Field]:
    """Fields of a multipart/form-data, urlencoded or JSON-object body."""
    header = email.parser.HeaderParser().parsestr(f"Content-Type: {content_type}\n\n")
    kind = header.get_content_type()
    if kind == "multipart/form-data":
        boundary = header.get_param("boundary")
        if not isinstance(boundary, str) or not boundary:
            raise ApiError(400, "Multipart form parse error - Invalid boundary in multipart.")
        fields: dict[str, Field] = {}
        chunks = (b"\r\n" + body).split(b"\r\n--" + boundary.encode("latin-1"))
        for chunk in chunks[1:]:
            if chunk.startswith(b"--"):
                break
            head, sep, data = chunk.partition(b"\r\n\r\n")
            if not sep:
                raise ApiError(400, "Multipart form parse error - a part has no headers.")
            part = email.parser.BytesHeaderParser().parsebytes(head.lstrip(b"\r\n") + b"\r\n\r\n")
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, str):
                fields[name] = Field(data, part.get_filename())
        return fields
    if kind == "application/x-www-form-urlencoded":
        pairs = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        return {k: Field(v[-1].encode("utf-8")) for k, v in pairs.items()}
    if kind == "application/json":
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            raise ApiError(400, "JSON parse error.") from None
        if not isinstance(doc, dict):
            raise ApiError(400, "Expected a JSON object.")
        return {k: Field((v if isinstance(v, str) else json.dumps(v)).encode("utf-8"))
                for k, v in doc.items()}
    if not body:
        return {}
    raise ApiError(415, f'Unsupported media type "{kind}" in request.')


def field_text(fields: dict[str, Field], name: str, default: str = "") -> str:
    """The field's text, or ``default`` when it was not sent."""
    return fields[name].text() if name in fields else default


def image_kind(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    return None


def json_field(fields: dict[str, Field], name: str) -> Any:
    if name not in fields:
        return None
    try:
        return json.loads(fields[name].value or b"null")
    except ValueError:
        raise ApiError(400, f"'{name}' is not valid JSON.") from None
