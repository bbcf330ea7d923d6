"""Derive the XML Schemas (XSD 1.0) from the data model.

One self-contained XSD per request root and per response of each operation,
holding only the types reachable from its root element.
- A type whose children never repeat is an `xs:all` (any order, each child at
  most once, required children minOccurs=1): the samples order children freely.
- XSD 1.0 forbids repeated children inside `xs:all`, so a type with a repeated
  child is an `xs:sequence` in the order of schemas.yaml (the documented order).
- An optional scalar element may be empty (`<external_id />`): its type is the
  union of the scalar and the empty string.
This is the strict profile: an unknown element is invalid. The lenient profile
prunes undocumented elements before validating (contract.prune_unknown).
"""

from __future__ import annotations

from lxml import etree

from capmock.openapi.build.model import Model, Prop, Scalar, TypeDef

XS = "http://www.w3.org/2001/XMLSchema"
EMPTY = "empty"
OPTIONAL_SUFFIX = "_or_empty"


def xs(tag: str, parent: etree._Element | None = None, **attrs: str) -> etree._Element:
    """Create an xs:* element, appended to parent when given."""
    name = f"{{{XS}}}{tag}"
    if parent is None:
        return etree.Element(name, attrs, nsmap={"xs": XS})
    return etree.SubElement(parent, name, attrs)


def scalar_type(s: Scalar) -> etree._Element:
    """xs:simpleType for a scalar: a restricted xs:string."""
    simple = xs("simpleType", name=s.name)
    if s.doc:
        xs("documentation", xs("annotation", simple)).text = s.doc
    restriction = xs("restriction", simple, base="xs:string")
    if s.pattern:
        xs("pattern", restriction, value=s.pattern)
    for value in s.enum:
        xs("enumeration", restriction, value=value)
    return simple


def optional_type(name: str) -> etree._Element:
    simple = xs("simpleType", name=name + OPTIONAL_SUFFIX)
    xs("union", simple, memberTypes=f"{name} {EMPTY}")
    return simple


def empty_type() -> etree._Element:
    simple = xs("simpleType", name=EMPTY)
    xs("length", xs("restriction", simple, base="xs:string"), value="0")
    return simple


def element_type(p: Prop, model: Model) -> str:
    """The XSD type name of a property's element."""
    if p.type == "text":
        return "xs:string"
    if model.is_scalar(p.type) and not p.required:
        return p.type + OPTIONAL_SUFFIX
    if p.type in model.types and model.types[p.type].opaque:
        return "xs:anyType"
    return p.type


def child_element(group: etree._Element, p: Prop, model: Model) -> None:
    attrs = {"name": p.name, "type": element_type(p, model)}
    attrs["minOccurs"] = "1" if p.required else "0"
    if p.repeated:
        attrs["maxOccurs"] = "unbounded"
    xs("element", group, **attrs)


def complex_type(t: TypeDef, model: Model) -> etree._Element:
    """xs:complexType for a type: xs:all, or xs:sequence when a child repeats."""
    ctype = xs("complexType", name=t.name)
    if t.doc:
        xs("documentation", xs("annotation", ctype)).text = t.doc
    group = xs("sequence" if t.has_repeated else "all", ctype)
    for p in t.props:
        child_element(group, p, model)
    return ctype


def build_xsd(model: Model, root_element: str, root_type: str) -> bytes:
    """A self-contained XSD whose only global element is `root_element`."""
    schema = xs("schema", elementFormDefault="unqualified")
    xs("element", schema, name=root_element, type=root_type)
    names = model.reachable(root_type)
    scalars = [model.scalars[n] for n in names if n in model.scalars and n != "text"]
    types = [model.types[n] for n in names if n in model.types and not model.types[n].opaque]
    for s in sorted(scalars, key=lambda s: s.name):
        schema.append(scalar_type(s))
        schema.append(optional_type(s.name))
    if scalars:
        schema.append(empty_type())
    for t in types:
        schema.append(complex_type(t, model))
    etree.indent(schema, space="  ")
    return etree.tostring(schema, xml_declaration=True, encoding="UTF-8") + b"\n"
