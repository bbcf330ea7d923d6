"""XML <-> JSON-like data conversion for the Capillary InTouch v1.1 customer API.

The API's JSON bodies are a mechanical conversion of its XML bodies. This module
implements that conversion both ways, plus a normal form for comparing the two.

XML -> data (``xml_to_data``), result ``{root_tag: value}``:

- an element with child elements becomes a dict, keys in first-occurrence order;
- a child name that occurs more than once among its siblings becomes a list of
  the values, in document order;
- an element without child elements becomes its text as a ``str``: ``""`` when
  empty or whitespace-only (XML whitespace: space, tab, CR, LF), otherwise the
  text exactly as written (never stripped);
- comments and processing instructions are ignored (text on either side of
  them is joined); whitespace-only text between child elements is ignored;
- non-whitespace text mixed with child elements, attributes, and namespaced
  tags raise ``CodecError`` (the API uses none of them).

Data -> XML (``data_to_xml``), input ``{root_tag: value}``:

- dict -> child elements in key order; list -> one element per item, named
  after the key (an empty list gives no element; a list directly inside a list,
  or a list as the root value, is an error);
- str -> text; bool -> ``"true"``/``"false"``; int/float -> ``str(value)``;
  ``None``, ``""`` and ``{}`` -> an empty element;
- keys must be XML names without a namespace (NCName), text must consist of
  XML 1.0 characters; anything else raises ``CodecError`` (``clean`` holds
  that rule, so input can be refused before it is ever stored);
- output is UTF-8 with an optional ``<?xml version="1.0" encoding="UTF-8"?>``
  line, optionally indented by 2 spaces, and always ends with a newline.

``canonical`` maps both sides to one normal form: scalars become strings,
empty values (None, "", whitespace-only strings, [], {}) are dropped from dicts
(a dict left empty is itself empty, i.e. ""), a one-item list becomes its item.
``equivalent`` lists the differences between two canonical forms.

Parsing (``parse_xml``) is hardened for untrusted input: no DTD loading, no
entity resolution, no network, any DOCTYPE rejected, a nesting depth limit.
Parsers are kept one per thread.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from lxml import etree

from capmock.openapi.clean import BAD_XML_CHAR

__all__ = [
    "CodecError",
    "canonical",
    "data_to_json",
    "data_to_xml",
    "equivalent",
    "parse_xml",
    "xml_to_data",
]

_XML_WS = " \t\r\n"
_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_DOCTYPE_MARK = b"<!DOCTYPE"
_INVALID_CHAR = re.compile(r"invalid (?:Char|xmlChar) value (\d+)")
_ABSENT = object()

_local = threading.local()


class CodecError(ValueError):
    """A body or a value that cannot be converted; the message names the problem."""


# --------------------------------------------------------------------------- parsing


def _new_parser(encoding: str | None) -> etree.XMLParser:
    return etree.XMLParser(
        encoding=encoding,
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        no_network=True,
        huge_tree=False,
    )


def _parser(for_text: bool) -> etree.XMLParser:
    """This thread's parser: for bytes (encoding from the document) or for str (UTF-8)."""
    parsers = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = (_new_parser(None), _new_parser("utf-8"))
    return parsers[for_text]


def _depth_probe(max_depth: int) -> etree.XPath:
    """This thread's compiled XPath selecting elements nested deeper than max_depth."""
    probes = getattr(_local, "probes", None)
    if probes is None:
        probes = _local.probes = {}
    probe = probes.get(max_depth)
    if probe is None:
        probe = probes[max_depth] = etree.XPath("(" + "/*" * (max_depth + 1) + ")[1]")
    return probe


def _syntax_error(body: bytes, error: etree.XMLSyntaxError) -> CodecError:
    message = error.msg or str(error)
    bad_char = _INVALID_CHAR.search(message)
    if bad_char:  # libxml2 refuses what XML 1.0 cannot carry, as clean.text_problem does
        line, column = error.position
        return CodecError(f"character not allowed in XML 1.0 (U+{int(bad_char.group(1)):04X}"
                          f" at line {line}, column {column})")
    if message.startswith("Unsupported encoding"):
        return CodecError(f"declared XML encoding cannot be decoded: {message}")
    if _DOCTYPE_MARK in body:
        return CodecError(f"DOCTYPE is not allowed (parser said: {message})")
    return CodecError(f"malformed XML: {message}")


def _to_bytes(body: bytes | str) -> tuple[bytes, bool]:
    if isinstance(body, str):
        try:
            return body.encode("utf-8"), True
        except UnicodeEncodeError as exc:
            raise CodecError(f"XML text is not valid Unicode: {exc.reason}") from None
    if isinstance(body, bytes):
        return body, False
    raise TypeError(f"XML body must be bytes or str, not {type(body).__name__}")


def parse_xml(body: bytes | str, *, max_depth: int = 64) -> etree._Element:
    """Parse an untrusted XML body and return its root element.

    No DTD is loaded, no entity resolved, no network used; a document with a
    DOCTYPE, nested deeper than ``max_depth`` elements (the root is depth 1),
    malformed, or in an encoding lxml cannot decode raises ``CodecError``.
    A ``str`` body is taken as already decoded: its declared encoding is ignored.
    """
    if max_depth < 1:
        raise ValueError("max_depth must be at least 1")
    data, is_text = _to_bytes(body)
    try:
        root = etree.fromstring(data, _parser(is_text))
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(data, exc) from None
    if root.getroottree().docinfo.doctype:
        raise CodecError("DOCTYPE is not allowed")
    too_deep = _depth_probe(max_depth)(root)
    if too_deep:
        raise CodecError(f"{_path(too_deep[0])}: nested deeper than {max_depth} elements")
    return root


# --------------------------------------------------------------------------- XML -> data


def _path(element: etree._Element) -> str:
    return element.getroottree().getpath(element)


def _is_blank(text: str | None) -> bool:
    return not text or not text.strip(_XML_WS)


def _leaf_text(text: str | None) -> str:
    return text if text and text.strip(_XML_WS) else ""


def _namespaced(element: etree._Element) -> bool:
    return str(element.tag).startswith("{")


def _unsupported(element: etree._Element) -> CodecError:
    if _namespaced(element):
        return CodecError(f"{_path(element)}: namespaced element {element.tag!r} is not supported")
    names = ", ".join(element.attrib)
    return CodecError(f"{_path(element)}: attributes are not supported (found {names})")


def _children_value(element: etree._Element) -> dict[str, Any] | str:
    result: dict[str, Any] = {}
    text_is_blank = _is_blank(element.text)
    for child in element:
        tag = child.tag
        if isinstance(tag, str):  # not a comment or processing instruction
            value = _element_value(child)
            if tag not in result:
                result[tag] = value
            elif isinstance(existing := result[tag], list):
                existing.append(value)
            else:
                result[tag] = [existing, value]
        text_is_blank = text_is_blank and _is_blank(child.tail)
    if not result:  # only comments / processing instructions inside
        return _leaf_text("".join(element.itertext()))
    if not text_is_blank:
        raise CodecError(f"{_path(element)}: text mixed with child elements is not supported")
    return result


def _element_value(element: etree._Element) -> dict[str, Any] | str:
    if _namespaced(element) or element.attrib:
        raise _unsupported(element)
    if len(element):
        return _children_value(element)
    return _leaf_text(element.text)


def xml_to_data(body: bytes | str | etree._Element) -> dict[str, Any]:
    """Convert an XML body (or a parsed element) to ``{root_tag: value}``.

    Bytes and str are parsed with ``parse_xml``. See the module docstring for
    the rules; unsupported XML raises ``CodecError`` naming the element path.
    """
    root = body if isinstance(body, etree._Element) else parse_xml(body)
    if not isinstance(root.tag, str):
        raise TypeError("xml_to_data needs an element, not a comment or processing instruction")
    return {root.tag: _element_value(root)}


# --------------------------------------------------------------------------- data -> XML


def _bad_char_error(element: etree._Element, text: str) -> CodecError:
    match = BAD_XML_CHAR.search(text)
    where = f"U+{ord(match.group()):04X} at offset {match.start()}" if match else repr(text)
    return CodecError(f"{_path(element)}: character not allowed in XML 1.0 ({where})")


def _set_text(element: etree._Element, text: str) -> None:
    if not text:
        return
    try:
        element.text = text
    except ValueError:  # lxml's own check; also UnicodeEncodeError for lone surrogates
        raise _bad_char_error(element, text) from None


def _child(parent: etree._Element | None, key: object) -> etree._Element:
    """A new element named key (under parent, or a root when parent is None)."""
    if isinstance(key, str) and not key.startswith("{"):
        try:
            return etree.Element(key) if parent is None else etree.SubElement(parent, key)
        except ValueError:
            pass
    where = "/" if parent is None else _path(parent)
    raise CodecError(f"{where}: key {key!r} is not a valid XML element name")


def _fill_items(parent: etree._Element, key: object, items: list[Any]) -> None:
    for item in items:
        if isinstance(item, list):
            raise CodecError(f"{_path(parent)}/{key}: a list directly inside a list")
        _fill(_child(parent, key), item)


def _fill_dict(element: etree._Element, value: dict[Any, Any]) -> None:
    for key, item in value.items():
        if isinstance(item, list):
            _fill_items(element, key, item)
        else:
            _fill(_child(element, key), item)


def _fill(element: etree._Element, value: Any) -> None:
    if isinstance(value, str):
        _set_text(element, value)
    elif isinstance(value, dict):
        _fill_dict(element, value)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif isinstance(value, int | float):
        element.text = str(value)
    elif value is not None:
        raise CodecError(f"{_path(element)}: cannot convert {type(value).__name__} to XML")


def _root(data: dict[str, Any]) -> etree._Element:
    if not isinstance(data, dict) or len(data) != 1:
        raise CodecError("data must be a dict with exactly one key, the root element name")
    ((key, value),) = data.items()
    if isinstance(value, list):
        raise CodecError(f"/{key}: the root element cannot be a list")
    root = _child(None, key)
    _fill(root, value)
    return root


def data_to_xml(data: dict[str, Any], *, declaration: bool = True, pretty: bool = True) -> bytes:
    """Render ``{root_tag: value}`` as a UTF-8 XML document ending with a newline.

    ``declaration`` adds ``<?xml version="1.0" encoding="UTF-8"?>``; ``pretty``
    indents by 2 spaces. Unrepresentable data raises ``CodecError``.
    """
    try:
        root = _root(data)
    except RecursionError:
        raise CodecError("data is nested too deeply to convert to XML") from None
    if pretty:
        etree.indent(root, space="  ")
    body = etree.tostring(root, encoding="UTF-8") + b"\n"
    return _DECLARATION + body if declaration else body


def data_to_json(data: dict[str, Any], *, pretty: bool = False) -> bytes:
    """Render data as UTF-8 JSON (non-ASCII kept), compact or indented by 2 spaces."""
    try:
        if pretty:
            text = json.dumps(data, ensure_ascii=False, allow_nan=False, indent=2)
        else:
            text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise CodecError(f"cannot convert to JSON: {exc}") from None


# --------------------------------------------------------------------------- comparison


def _canonical_dict(value: dict[Any, Any]) -> dict[Any, Any] | str:
    result = {}
    for key, item in value.items():
        normal = canonical(item)
        if normal != "":
            result[key] = normal
    return result or ""


def _canonical_list(value: list[Any]) -> list[Any] | Any:
    if not value:
        return ""
    if len(value) == 1:
        return canonical(value[0])
    return [canonical(item) for item in value]


def canonical(value: Any) -> Any:
    """Normal form for comparing a JSON body with the same body read from XML.

    Numbers and bools become strings (``"true"``/``"false"``); None, "",
    whitespace-only strings, [] and {} become ``""`` and are dropped from dicts
    (a dict left empty becomes ``""``); a one-item list becomes its item; other
    lists are normalised item by item (empty items stay ``""``).
    """
    if isinstance(value, str):
        return _leaf_text(value)
    if isinstance(value, dict):
        return _canonical_dict(value)
    if isinstance(value, list):
        return _canonical_list(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return ""
    raise CodecError(f"cannot normalise a {type(value).__name__}")


def _show(value: Any) -> str:
    if value is _ABSENT:
        return "(absent)"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: ..." for key in value) + "}"
    if isinstance(value, list):
        return f"[list of {len(value)}]"
    return repr(value)


def _diff_dicts(left: dict[Any, Any], right: dict[Any, Any], path: str, out: list[str]) -> None:
    for key in {**left, **right}:
        _diff(left.get(key, _ABSENT), right.get(key, _ABSENT), f"{path}/{key}", out)


def _diff_lists(left: list[Any], right: list[Any], path: str, out: list[str]) -> None:
    if len(left) != len(right):
        out.append(f"{path}: {_show(left)} != {_show(right)}")
    for index, (one, other) in enumerate(zip(left, right, strict=False), start=1):
        _diff(one, other, f"{path}[{index}]", out)


def _diff(left: Any, right: Any, path: str, out: list[str]) -> None:
    if isinstance(left, dict) and isinstance(right, dict):
        _diff_dicts(left, right, path, out)
    elif isinstance(left, list) and isinstance(right, list):
        _diff_lists(left, right, path, out)
    elif left != right:
        out.append(f"{path or '/'}: {_show(left)} != {_show(right)}")


def equivalent(json_data: Any, xml_data: Any) -> list[str]:
    """Differences between the canonical forms of a JSON body and an XML body's data.

    Each line reads ``/path/to/key: <json value> != <xml value>``; list items
    are numbered from 1 (``/a/b[2]``). An empty list means the two agree.
    """
    out: list[str] = []
    _diff(canonical(json_data), canonical(xml_data), "", out)
    return out
