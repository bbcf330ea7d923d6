"""Tests for capmock.openapi.codec: XML <-> JSON-like data, hardening, comparison."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from capmock.openapi.codec import (
    CodecError,
    canonical,
    data_to_json,
    data_to_xml,
    equivalent,
    parse_xml,
    xml_to_data,
)

# Excerpt of the documented customer/get sample response (XML and JSON forms).
CUSTOMER_GET_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<response>
    <status>
        <success>true</success>
        <code>200</code>
        <message>Success</message>
    </status>
    <customers>
        <customer>
            <firstname>Rati</firstname>
            <mobile>19889999999</mobile>
            <external_id />
            <lifetime_points>442</lifetime_points>
            <fraud_details>
                <status>NONE</status>
                <marked_by></marked_by>
            </fraud_details>
            <custom_fields></custom_fields>
            <transactions>
                <transaction>
                    <id>32650346</id>
                    <number>90384</number>
                </transaction>
                <transaction>
                    <id>32650345</id>
                    <number>testbil90</number>
                </transaction>
            </transactions>
            <coupons></coupons>
        </customer>
    </customers>
</response>
"""

CUSTOMER_GET_JSON = """{
  "response": {
    "status": {"success": "true", "code": 200, "message": "Success"},
    "customers": {
      "customer": [
        {
          "firstname": "Rati",
          "mobile": "19889999999",
          "external_id": null,
          "lifetime_points": 442,
          "identifiers": [],
          "fraud_details": {"status": "NONE", "marked_by": ""},
          "custom_fields": {"field": []},
          "transactions": {
            "transaction": [
              {"id": "32650346", "number": "90384"},
              {"id": "32650345", "number": "testbil90"}
            ]
          },
          "coupons": {"coupon": []},
          "notes": []
        }
      ]
    }
  }
}"""


def _customer(data: dict[str, Any]) -> dict[str, Any]:
    return data["response"]["customers"]["customer"]


# --------------------------------------------------------------------------- xml_to_data


def test_xml_to_data_wraps_value_in_root_tag() -> None:
    assert xml_to_data(b"<root><a>1</a></root>") == {"root": {"a": "1"}}


def test_xml_to_data_keeps_first_occurrence_key_order() -> None:
    data = xml_to_data(b"<r><b>1</b><a>2</a><c>3</c></r>")
    assert list(data["r"]) == ["b", "a", "c"]


def test_repeated_siblings_become_list_in_document_order() -> None:
    data = xml_to_data(b"<r><a>1</a><b/><a>2</a><a>3</a></r>")
    assert data == {"r": {"a": ["1", "2", "3"], "b": ""}}
    assert list(data["r"]) == ["a", "b"]


def test_repeated_elements_with_children_become_list_of_dicts() -> None:
    data = xml_to_data(b"<r><f><n>x</n></f><f><n>y</n></f></r>")
    assert data == {"r": {"f": [{"n": "x"}, {"n": "y"}]}}


@pytest.mark.parametrize("body", [b"<r/>", b"<r></r>", b"<r>  \n\t </r>"])
def test_empty_or_whitespace_leaf_is_empty_string(body: bytes) -> None:
    assert xml_to_data(body) == {"r": ""}


def test_non_whitespace_leaf_text_is_kept_exactly() -> None:
    assert xml_to_data(b"<r><a> x \n</a></r>") == {"r": {"a": " x \n"}}


def test_non_breaking_space_is_not_xml_whitespace() -> None:
    assert xml_to_data("<r>\u00a0</r>") == {"r": "\u00a0"}


def test_comments_and_processing_instructions_are_ignored() -> None:
    body = b"<?pi x?><!--top--><r><!--c--><a>1</a><?pi y?><b>a<!--x-->b</b></r>"
    assert xml_to_data(body) == {"r": {"a": "1", "b": "ab"}}


def test_element_with_only_a_comment_is_empty() -> None:
    assert xml_to_data(b"<r><a><!-- nothing --></a></r>") == {"r": {"a": ""}}


def test_whitespace_between_children_is_ignored() -> None:
    assert xml_to_data(b"<r>\n  <a>1</a>\n  <b>2</b>\n</r>\n") == {"r": {"a": "1", "b": "2"}}


@pytest.mark.parametrize(
    "body", [b"<r>text<a/></r>", b"<r><a/>tail</r>", b"<r><a/><!--c-->tail</r>"]
)
def test_mixed_content_is_rejected_with_path(body: bytes) -> None:
    with pytest.raises(CodecError, match=r"^/r: text mixed"):
        xml_to_data(body)


def test_attributes_are_rejected_with_path() -> None:
    body = b"<root><customer/><customer><mobile type='x'>1</mobile></customer></root>"
    with pytest.raises(CodecError, match=r"^/root/customer\[2\]/mobile: attributes.*type"):
        xml_to_data(body)


@pytest.mark.parametrize("body", [b"<r xmlns='urn:x'/>", b"<r><p:a xmlns:p='urn:x'/></r>"])
def test_namespaced_tags_are_rejected(body: bytes) -> None:
    with pytest.raises(CodecError, match="namespaced element"):
        xml_to_data(body)


def test_xml_to_data_accepts_str_and_element() -> None:
    assert xml_to_data("<r><a>1</a></r>") == {"r": {"a": "1"}}
    assert xml_to_data(etree.fromstring(b"<r><a>1</a></r>")) == {"r": {"a": "1"}}


# --------------------------------------------------------------------------- data_to_xml


def test_data_to_xml_pretty_with_declaration() -> None:
    data = {"r": {"a": "1", "b": {"c": "2"}}}
    assert data_to_xml(data) == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b"<r>\n  <a>1</a>\n  <b>\n    <c>2</c>\n  </b>\n</r>\n"
    )


def test_data_to_xml_compact_without_declaration() -> None:
    data = {"r": {"a": "1", "b": {"c": "2"}}}
    assert data_to_xml(data, declaration=False, pretty=False) == b"<r><a>1</a><b><c>2</c></b></r>\n"


def test_dict_keys_become_children_in_key_order() -> None:
    out = data_to_xml({"r": {"z": "1", "a": "2", "m": "3"}}, pretty=False, declaration=False)
    assert out == b"<r><z>1</z><a>2</a><m>3</m></r>\n"


def test_list_becomes_repeated_elements() -> None:
    out = data_to_xml({"r": {"a": ["1", {"b": "2"}], "c": "3"}}, pretty=False, declaration=False)
    assert out == b"<r><a>1</a><a><b>2</b></a><c>3</c></r>\n"


def test_empty_list_gives_no_element() -> None:
    out = data_to_xml({"r": {"a": [], "b": "1"}}, pretty=False, declaration=False)
    assert out == b"<r><b>1</b></r>\n"


def test_list_directly_inside_list_is_rejected() -> None:
    with pytest.raises(CodecError, match=r"^/r/a: a list directly inside a list"):
        data_to_xml({"r": {"a": ["1", ["2"]]}})


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, b"<v>true</v>"),
        (False, b"<v>false</v>"),
        (200, b"<v>200</v>"),
        (-3, b"<v>-3</v>"),
        (1.5, b"<v>1.5</v>"),
        ("x", b"<v>x</v>"),
    ],
)
def test_scalars_become_text(value: object, text: bytes) -> None:
    out = data_to_xml({"r": {"v": value}}, pretty=False, declaration=False)
    assert out == b"<r>" + text + b"</r>\n"


@pytest.mark.parametrize("value", [None, "", {}])
def test_empty_values_become_empty_element(value: object) -> None:
    out = data_to_xml({"r": {"v": value}}, pretty=False, declaration=False)
    assert out == b"<r><v/></r>\n"


def test_scalar_root_value() -> None:
    assert data_to_xml({"r": 5}, declaration=False) == b"<r>5</r>\n"


@pytest.mark.parametrize("key", ["1a", "a b", "", "a:b", "{urn:x}a", "-a", "a>", 5, None])
def test_invalid_key_names_are_rejected(key: object) -> None:
    with pytest.raises(CodecError, match=r"^/r/a: key .* is not a valid XML element name"):
        data_to_xml({"r": {"a": {key: "1"}}})


def test_invalid_root_name_is_rejected() -> None:
    with pytest.raises(CodecError, match="not a valid XML element name"):
        data_to_xml({"1r": "x"})


def test_unicode_key_names_are_accepted() -> None:
    out = data_to_xml({"r": {"他": "1", "a.b-c_d": "2"}}, pretty=False, declaration=False)
    assert out == "<r><他>1</他><a.b-c_d>2</a.b-c_d></r>\n".encode()


@pytest.mark.parametrize("data", [{}, {"a": "1", "b": "2"}, ["r"], "r"])
def test_data_must_be_single_key_dict(data: Any) -> None:
    with pytest.raises(CodecError, match="exactly one key"):
        data_to_xml(data)


def test_root_value_cannot_be_a_list() -> None:
    with pytest.raises(CodecError, match="root element cannot be a list"):
        data_to_xml({"r": ["1", "2"]})


@pytest.mark.parametrize("text", ["a\x00b", "\x01", "\x1f", "\ufffe", "\ud800"])
def test_characters_not_allowed_in_xml_are_rejected(text: str) -> None:
    with pytest.raises(CodecError, match=r"^/r/a\[2\]: character not allowed in XML 1\.0"):
        data_to_xml({"r": {"a": ["ok", text]}})


def test_unsupported_value_type_is_rejected() -> None:
    with pytest.raises(CodecError, match=r"^/r/a: cannot convert bytes"):
        data_to_xml({"r": {"a": b"x"}})


def test_carriage_return_tab_and_newline_round_trip() -> None:
    data = {"r": {"a": "x\r\ny\tz\rw"}}
    assert xml_to_data(data_to_xml(data)) == data


# --------------------------------------------------------------------------- data_to_json


def test_data_to_json_compact_keeps_unicode() -> None:
    assert data_to_json({"r": {"a": "他他他", "n": 1}}) == '{"r":{"a":"他他他","n":1}}'.encode()


def test_data_to_json_pretty_uses_two_spaces() -> None:
    assert data_to_json({"r": {"a": None}}, pretty=True) == b'{\n  "r": {\n    "a": null\n  }\n}'


def test_data_to_json_rejects_unserialisable_values() -> None:
    with pytest.raises(CodecError):
        data_to_json({"r": float("nan")})
    with pytest.raises(CodecError):
        data_to_json({"r": object()})


# --------------------------------------------------------------------------- canonical


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (200, "200"),
        (1.5, "1.5"),
        (True, "true"),
        (False, "false"),
        ("  x ", "  x "),
        (" \n", ""),
        (None, ""),
        ([], ""),
        ({}, ""),
        (["x"], "x"),
        ([["x"]], "x"),
        ([1, None, {}], ["1", "", ""]),
        ({"a": None, "b": "", "c": [], "d": {}, "e": {"f": [None]}, "g": 0}, {"g": "0"}),
        ({"a": {"b": {"c": None}}}, ""),
        ({"a": [{"b": 1}]}, {"a": {"b": "1"}}),
    ],
)
def test_canonical(value: Any, expected: Any) -> None:
    assert canonical(value) == expected


def test_canonical_rejects_unknown_types() -> None:
    with pytest.raises(CodecError):
        canonical({"a": b"x"})


# --------------------------------------------------------------------------- equivalent


def test_equivalent_returns_empty_list_when_forms_agree() -> None:
    assert equivalent({"r": {"a": 1, "b": [True], "c": None}}, {"r": {"a": "1", "b": "true"}}) == []


def test_equivalent_reports_value_difference_with_path() -> None:
    json_data = {"response": {"customers": {"customer": [{"external_id": "ts1234"}]}}}
    xml_data = {"response": {"customers": {"customer": {"external_id": "TOM123"}}}}
    assert equivalent(json_data, xml_data) == [
        "/response/customers/customer/external_id: 'ts1234' != 'TOM123'"
    ]


def test_equivalent_reports_missing_keys_and_list_items() -> None:
    diffs = equivalent({"r": {"a": "1", "l": ["x", "y"]}}, {"r": {"b": "2", "l": ["x", "z", "w"]}})
    assert diffs == [
        "/r/a: '1' != (absent)",
        "/r/l: [list of 2] != [list of 3]",
        "/r/l[2]: 'y' != 'z'",
        "/r/b: (absent) != '2'",
    ]


# --------------------------------------------------------------------------- documented sample


def test_customer_get_sample_json_is_equivalent_to_xml() -> None:
    json_data = json.loads(CUSTOMER_GET_JSON)
    xml_data = xml_to_data(CUSTOMER_GET_XML)
    assert equivalent(json_data, xml_data) == []


def test_customer_get_sample_xml_shapes() -> None:
    customer = _customer(xml_to_data(CUSTOMER_GET_XML))
    assert customer["external_id"] == ""
    assert customer["custom_fields"] == ""
    assert [t["number"] for t in customer["transactions"]["transaction"]] == ["90384", "testbil90"]


def test_customer_get_sample_difference_is_reported() -> None:
    json_data = json.loads(CUSTOMER_GET_JSON)
    _customer(json_data)[0]["external_id"] = "ts1234"
    assert equivalent(json_data, xml_to_data(CUSTOMER_GET_XML)) == [
        "/response/customers/customer/external_id: 'ts1234' != (absent)"
    ]


def test_customer_get_sample_round_trips_through_xml() -> None:
    data = xml_to_data(CUSTOMER_GET_XML)
    assert xml_to_data(data_to_xml(data)) == data
    assert xml_to_data(data_to_xml(data, pretty=False)) == data


def test_customer_get_sample_json_renders_as_equivalent_xml() -> None:
    json_data = json.loads(CUSTOMER_GET_JSON)
    rendered = xml_to_data(data_to_xml(json_data))
    assert equivalent(json_data, rendered) == []
    assert equivalent(rendered, xml_to_data(CUSTOMER_GET_XML)) == []


# --------------------------------------------------------------------------- text and encodings


def test_unicode_round_trip() -> None:
    data = {"r": {"name": "他他他"}}
    out = data_to_xml(data)
    assert "<name>他他他</name>".encode() in out
    assert xml_to_data(out) == data
    assert xml_to_data(out.decode("utf-8")) == data


def test_entity_reference_round_trip() -> None:
    assert xml_to_data(b"<r><a>a &gt; b &amp; c &lt; d</a></r>") == {"r": {"a": "a > b & c < d"}}
    out = data_to_xml({"r": {"a": "a > b & c < d"}}, pretty=False, declaration=False)
    assert out == b"<r><a>a &gt; b &amp; c &lt; d</a></r>\n"


def test_character_references_are_decoded() -> None:
    assert xml_to_data(b"<r>&#20182;&#x4ed6;</r>") == {"r": "他他"}


def test_declared_latin1_and_utf16_are_decoded() -> None:
    latin1 = '<?xml version="1.0" encoding="ISO-8859-1"?><r>é</r>'.encode("latin-1")
    utf16 = '<?xml version="1.0" encoding="UTF-16"?><r>他</r>'.encode("utf-16")
    assert xml_to_data(latin1) == {"r": "é"}
    assert xml_to_data(utf16) == {"r": "他"}


def test_str_body_ignores_declared_encoding() -> None:
    assert xml_to_data('<?xml version="1.0" encoding="ISO-8859-1"?><r>他</r>') == {"r": "他"}


def test_undecodable_declared_encoding_is_rejected() -> None:
    with pytest.raises(CodecError, match=r"encoding.*no-such-charset"):
        parse_xml(b'<?xml version="1.0" encoding="no-such-charset"?><r/>')


def test_str_with_lone_surrogate_is_rejected() -> None:
    with pytest.raises(CodecError, match="not valid Unicode"):
        parse_xml("<r>\ud800</r>")


def test_non_text_body_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse_xml(123)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- hardening


def test_xxe_is_rejected() -> None:
    body = b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    with pytest.raises(CodecError, match="DOCTYPE"):
        xml_to_data(body)


def test_parameter_entity_xxe_is_rejected() -> None:
    body = b'<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]><r/>'
    with pytest.raises(CodecError, match="DOCTYPE"):
        parse_xml(body)


def test_billion_laughs_is_rejected() -> None:
    entities = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    body = f'<!DOCTYPE lolz [<!ENTITY lol0 "lol">{entities}]><lolz>&lol9;</lolz>'
    with pytest.raises(CodecError, match="DOCTYPE"):
        parse_xml(body.encode())


def test_plain_doctype_is_rejected() -> None:
    with pytest.raises(CodecError, match="DOCTYPE is not allowed"):
        parse_xml(b"<!DOCTYPE r><r/>")


def test_doctype_text_inside_comment_is_allowed() -> None:
    assert xml_to_data(b"<r><!-- <!DOCTYPE r> --></r>") == {"r": ""}


def _nested(depth: int) -> bytes:
    return b"<a>" * depth + b"</a>" * depth


def test_depth_limit_allows_exactly_max_depth() -> None:
    assert parse_xml(_nested(64)).tag == "a"
    assert parse_xml(_nested(5), max_depth=5).tag == "a"


def test_depth_limit_rejects_deeper_documents() -> None:
    with pytest.raises(CodecError, match="nested deeper than 64"):
        parse_xml(_nested(65))
    with pytest.raises(CodecError, match=r"^/a/a/a/a/a/a: nested deeper than 5"):
        parse_xml(_nested(6), max_depth=5)


@pytest.mark.parametrize(
    "body", [b"<r>\n  <a>\n</r>", b"<r>\n<a></b>\n</r>", b"", b"<r/><r/>", b"<r>&bogus;</r>"]
)
def test_malformed_xml_message_has_line_and_column(body: bytes) -> None:
    with pytest.raises(CodecError, match=r"malformed XML: .*line \d+, column \d+"):
        parse_xml(body)


def test_malformed_xml_points_at_the_right_line() -> None:
    with pytest.raises(CodecError, match=r"line 3"):
        parse_xml(b"<r>\n  <a>\n</r>")


def test_codec_error_is_a_value_error() -> None:
    assert issubclass(CodecError, ValueError)


def _parse_many(index: int) -> list[dict[str, Any]]:
    body = f"<r><i>{index}</i><t>他</t></r>".encode()
    return [xml_to_data(body) for _ in range(200)]


def test_parsing_from_many_threads_gives_correct_results() -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(_parse_many, range(16)))
    for index, items in enumerate(results):
        assert all(item == {"r": {"i": str(index), "t": "他"}} for item in items)


# --------------------------------------------------------------------------- property

_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,8}", fullmatch=True) | st.sampled_from(
    ["他", "é", "xmlish", "a.b"]
)
_CHARS = st.characters(
    exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff"
) | st.sampled_from("\t\n\r ")
_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(_CHARS, max_size=12)
)


def _extend(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(_NAMES, inner | st.lists(inner, max_size=3), max_size=4)


_DOCUMENTS = st.builds(
    lambda name, value: {name: value}, _NAMES, st.recursive(_LEAVES, _extend, max_leaves=25)
)


@settings(max_examples=200, deadline=None)
@given(data=_DOCUMENTS, pretty=st.booleans(), declaration=st.booleans())
def test_round_trip_preserves_canonical_form(
    data: dict[str, Any], pretty: bool, declaration: bool
) -> None:
    xml = data_to_xml(data, pretty=pretty, declaration=declaration)
    assert canonical(xml_to_data(xml)) == canonical(data)
    assert equivalent(data, xml_to_data(xml)) == []
