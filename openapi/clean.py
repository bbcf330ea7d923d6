"""Clean input: what capmock takes from outside (request bodies, query values,
sandbox files) must be something both formats can carry, so that no accepted
input can make a later answer unrenderable.

One rule, used by the mock's validation (bodies, query values), the
sandbox's file transfer (import, load, `capmock seed`), and the codec itself:

- **text** (values and keys) consists of XML 1.0 characters: no C0 control
  other than tab, LF and CR, no lone surrogate, no U+FFFE or U+FFFF
  (``text_problem``). JSON can carry them, XML cannot, and every answer
  exists in both formats, so they are refused at the door rather than stored;
- **keys** are XML element names without a namespace, and no list sits
  directly inside a list: the XML form (``codec.data_to_xml``) has no way to
  write either (held to what is stored as it is, sandbox files; request
  bodies, read field by field, are not: see ``data_problem``);
- **numbers** are finite (no NaN or Infinity: JSON has no such values, and
  an export that wrote them would not be JSON) and whole numbers have at most
  ``MAX_DIGITS`` digits;
- only JSON values: dict, list, str, int, float, bool, None.

``data_problem`` says where and why data breaks the rule; ``load_json``
parses JSON under it; ``escape_text`` makes any text safe to quote in a
message.
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import Any

from lxml import etree

__all__ = [
    "BAD_XML_CHAR",
    "MAX_DIGITS",
    "Unclean",
    "data_problem",
    "escape_text",
    "load_json",
    "text_problem",
    "whole_number",
]

BAD_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# Whole numbers have at most 20 digits: every 64-bit value (18446744073709551615
# has 20) fits, and the platform's whole numbers (user ids, points, counts,
# record ids) are 64-bit, as are SQLite's INTEGER and PostgreSQL's bigint.
# Without a bound, Python itself refuses past 4300 digits (int() raises
# ValueError, in json.loads and in YAML's int constructor alike), so a longer
# number reached capmock's code as an exception: a 407 instead of a 400.
MAX_DIGITS = 20
_RISKY_ESCAPE = re.compile(r"\\[ubf]")
_LIMIT = 10**MAX_DIGITS


class Unclean(ValueError):
    """Input that breaks the rule; the message says where and why."""


class _Refused:
    """A JSON number load_json will not take; data_problem reports it with its path."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def whole_number(value: Any) -> int | None:
    """The number a text of ASCII digits stands for, when it has at most
    MAX_DIGITS of them; else None. ("²".isdigit() is true and int() refuses
    it; int() refuses past 4300 digits.) An int is taken as it is, in range."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value < _LIMIT else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and \
            len(value) <= MAX_DIGITS:
        return int(value)
    return None


def text_problem(text: str) -> str | None:
    """Why XML 1.0 cannot carry `text` ("U+0015 at offset 3"), or None."""
    match = BAD_XML_CHAR.search(text)
    if match is None:
        return None
    return f"character not allowed in XML 1.0 (U+{ord(match.group()):04X} at offset " \
           f"{match.start()})"


def _escape(match: re.Match[str]) -> str:
    return ascii(match.group())[1:-1]  # \x15, \ud800, \ufffe


def escape_text(text: str) -> str:
    """`text` with every character XML 1.0 cannot carry written as its Python
    escape (\\x15, \\ud800, \\ufffe), so a message that quotes input renders in
    both formats whatever the input was."""
    return BAD_XML_CHAR.sub(_escape, text) if BAD_XML_CHAR.search(text) else text


@lru_cache(maxsize=4096)  # bounded: keys are the client's to choose
def is_element_name(key: str) -> bool:
    """Can `key` name an XML element (an NCName, as lxml, and so data_to_xml, checks it)?"""
    if not key or key[0] == "{" or BAD_XML_CHAR.search(key):
        return False
    try:
        etree.Element(key)
    except ValueError:
        return False
    return True


def _key_problem(key: Any, structure: bool) -> str | None:
    if not isinstance(key, str):
        return f"key {key!r} is not text"
    problem = text_problem(key)
    if problem is not None:
        return f"key {escape_text(key)!r}: {problem}"
    if structure and not is_element_name(key):
        return f"key {key!r} is not an XML element name"
    return None


def _scalar_problem(value: Any) -> str | None:
    if isinstance(value, str):
        return text_problem(value)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if -_LIMIT < value < _LIMIT else \
            f"a whole number of more than {MAX_DIGITS} digits"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{value} is not a finite number"
    if isinstance(value, _Refused):
        return value.reason
    return f"a {type(value).__name__} is not a JSON value"


def _children(path: str, value: dict | list, in_list: bool,
              structure: bool) -> tuple[str | None, list[tuple[str, Any, bool]]]:
    """(problem, children as (path, value, inside a list)) of a dict or list."""
    if isinstance(value, list):
        if in_list and structure:
            return f"{path}: a list directly inside a list", []
        return None, [(f"{path}/{index}", item, True) for index, item in enumerate(value)]
    out = []
    for key, item in value.items():
        problem = _key_problem(key, structure)
        if problem is not None:
            return f"{path or '/'}: {problem}", []
        out.append((f"{path}/{key}", item, False))
    return None, out


def data_problem(data: Any, *, structure: bool = True) -> str | None:
    """Where and why `data` breaks the rule of this module ("/root/customer/0/
    firstname: character not allowed in XML 1.0 (U+0015 at offset 1)"), the
    first in document order; None when it is clean. Paths are JSON pointers
    (list items numbered from 0). Walks without recursion, so any depth is safe.

    `structure=False` leaves out the two rules about the XML form's shape (keys
    that are element names, no list directly inside a list): for request
    bodies, whose fields the mock reads by name and never stores or echoes
    unless the schema types them (so a stray key or nested list never reaches
    an answer); what is stored as it is (sandbox files) gets the whole rule."""
    stack: list[tuple[str, Any, bool]] = [("", data, False)]
    while stack:
        path, value, in_list = stack.pop()
        if isinstance(value, dict | list):
            problem, children = _children(path, value, in_list, structure)
            if problem is not None:
                return problem
            stack.extend(reversed(children))
            continue
        problem = _scalar_problem(value)
        if problem is not None:
            return f"{path or '/'}: {problem}"
    return None


def _may_hide_bad_text(text: str) -> bool:
    """Can JSON text that parsed hold text XML cannot carry? Only through an
    escape (\\u0015, and \\b and \\f, the short forms of U+0008 and U+000C)
    or a raw U+FFFE/U+FFFF: the parser refuses raw control characters, and
    text decoded from UTF-8 has no lone surrogate. A single-character search
    first (a few hundred nanoseconds for a typical body, against tens of
    microseconds for walking it)."""
    if "\\" in text and _RISKY_ESCAPE.search(text):
        return True
    return not text.isascii() and ("\ufffe" in text or "\uffff" in text)


def load_json(text: str, *, structure: bool = True) -> Any:
    """json.loads for untrusted text (decoded from UTF-8), under this module's rule.

    Malformed JSON raises json.JSONDecodeError as json.loads does (and
    RecursionError for absurd nesting); well-formed JSON that breaks the rule
    (NaN, Infinity, 1e999, a 21-digit whole number, text or a key XML cannot
    carry) raises Unclean naming the path. A whole number is never converted
    past MAX_DIGITS digits, so Python's own 4300-digit limit is never reached.
    With `structure=False` (see data_problem) clean text is not walked at all."""
    refused: list[_Refused] = []

    def whole_number(digits: str) -> int | _Refused:
        if len(digits) - digits.startswith("-") <= MAX_DIGITS:
            return int(digits)
        refused.append(_Refused(f"a whole number of {len(digits.lstrip('-'))} digits "
                                f"(at most {MAX_DIGITS})"))
        return refused[-1]

    def real_number(literal: str) -> float | _Refused:
        value = float(literal)
        if math.isfinite(value):
            return value
        refused.append(_Refused(f"{literal[:40]} is out of range"))
        return refused[-1]

    def constant(name: str) -> _Refused:
        refused.append(_Refused(f"{name} is not a finite number"))
        return refused[-1]

    data = json.loads(text, parse_int=whole_number, parse_float=real_number,
                      parse_constant=constant)
    if structure or refused or _may_hide_bad_text(text):
        problem = data_problem(data, structure=structure)
        if problem is not None:
            raise Unclean(problem)
    return data
