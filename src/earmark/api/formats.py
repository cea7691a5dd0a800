"""Response formats of the web service: json, jsonp and xml (reference §2).

* json: ``json.dumps(sort_keys=True)`` (``", "``/``": "`` separators, non-ASCII escaped);
* jsonp: ``<callback>(<json>)``; the callback must be a dotted JavaScript identifier path,
  otherwise the default ``jsonAcoustidApi`` is used;
* xml: ``<response>`` with keys as sorted child elements, ``@key`` as attributes and list items
  named by the reference's naive singular of their parent (``results`` → ``result``,
  ``hashes`` → ``hashe``); scalars as ``str()`` (``True``, ``None``).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

FormatName = Literal["json", "jsonp", "xml"]
FORMATS: tuple[FormatName, ...] = ("json", "jsonp", "xml")
DEFAULT_CALLBACK = "jsonAcoustidApi"
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_CALLBACK = re.compile(r"[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*", re.ASCII)

CONTENT_TYPES: dict[FormatName, str] = {
    "json": "application/json; charset=UTF-8",
    "jsonp": "application/javascript; charset=UTF-8",
    "xml": "text/xml; charset=UTF-8",
}


@dataclass(frozen=True)
class Format:
    """A response format and, for jsonp, its callback."""

    name: FormatName = "json"
    callback: str = DEFAULT_CALLBACK

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.name]

    def render(self, payload: Mapping[str, Any]) -> bytes:
        if self.name == "xml":
            return to_xml(payload)
        text = to_json(payload)
        if self.name == "jsonp":
            text = f"{self.callback}({text})"
        return text.encode("ascii")


JSON = Format()
XML = Format("xml")


def parse_format(name: str | None, callback: str | None) -> Format | None:
    """The format called ``name`` (None or empty: json); None when there is no such format."""
    name = name or "json"
    if name not in FORMATS:
        return None
    return Format(name, valid_callback(callback))


def valid_callback(callback: str | None) -> str:
    if callback and _CALLBACK.fullmatch(callback):
        return callback
    return DEFAULT_CALLBACK


def to_json(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True)


def singular(tag: str) -> str:
    """The reference's naive singular: ``ies`` → ``y``, else one trailing ``s`` dropped."""
    if tag.endswith("ies"):
        return tag[:-3] + "y"
    if tag.endswith("s"):
        return tag[:-1]
    return tag


def to_xml(payload: Mapping[str, Any]) -> bytes:
    root = ET.Element("response")
    _fill(root, payload)
    # The reference's declaration: ``<?xml version='1.0' encoding='UTF-8'?>`` and a newline
    # (ElementTree leaves it out for UTF-8 unless asked).
    data: bytes = ET.tostring(root, encoding="UTF-8", xml_declaration=True)
    return data


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, Mapping):
        for key in sorted(value):
            item = value[key]
            if key.startswith("@"):
                element.set(key[1:], str(item))
            else:
                _fill(ET.SubElement(element, key), item)
    elif isinstance(value, list | tuple):
        name = singular(element.tag)
        for item in value:
            _fill(ET.SubElement(element, name), item)
    else:
        # XML 1.0 cannot carry most control characters (an echoed path or parameter may).
        element.text = _XML_INVALID.sub("\ufffd", str(value))
