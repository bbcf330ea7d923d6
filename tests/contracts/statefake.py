"""A minimal stateful stand-in for a real cluster, for the suite's own tests:
customer add/update/get, notes, tickets and preferences keep what they are
sent; everything else (and anything the store cannot answer) goes to
capmock's replay mock. `fault=` makes it wrong on purpose, to show that the
stateful checks catch it."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

from werkzeug.wrappers import Request, Response

from capmock.mockserver.settings import Settings
from capmock.mockserver.wsgi import create_app
from capmock.openapi import contract, envelope
from capmock.openapi.codec import CodecError, data_to_json, data_to_xml, xml_to_data

IDS = ("mobile", "email", "external_id")
OK = {"success": "true", "code": "1000", "message": "Success"}
STATUS = {"success": "true", "code": "200", "message": "Success"}
SHAPES = {"add": ("customers", "customer"), "update": ("customers", "customer"),
          "get": ("customers", "customer"), "preferences": ("customers", "customer"),
          "notes": ("customer", None), "tickets": ("customer", None)}


def listed(value: Any) -> list[dict[str, Any]]:
    return [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, dict)]


class Store:
    def __init__(self, fault: str | None) -> None:
        self.customers: list[dict[str, Any]] = []
        self.fault = fault

    def find(self, query: Any) -> dict[str, Any] | None:
        return next((c for c in self.customers
                     if any(query.get(k) and c.get(k) == query.get(k) for k in IDS)), None)

    def save(self, item: dict[str, Any]) -> dict[str, Any]:
        customer = self.find(item)
        if customer is None:
            customer = {"notes": [], "ticket": [], "field": [],
                        "user_id": str(1000 + len(self.customers))}
            self.customers.append(customer)
        for key in ("firstname", "lastname", *IDS):
            keep = key in IDS and customer.get(key) and self.fault != "update_changes_identifier"
            if item.get(key) and not keep:
                customer[key] = item[key]
        if self.fault == "forgets_lastname":
            customer.pop("lastname", None)
        return customer

    def write(self, name: str, item: dict[str, Any]) -> dict[str, Any] | None:
        customer = self.find(item)
        if customer is not None:
            source = {"notes": item.get("notes", {}).get("note"), "tickets": item.get("ticket"),
                      "preferences": item.get("custom_fields", {}).get("field")}[name]
            customer[{"notes": "notes", "tickets": "ticket", "preferences": "field"}[name]] += \
                listed(source)
        return customer


def view(customer: dict[str, Any], name: str) -> dict[str, Any]:
    out = {k: customer[k] for k in ("firstname", "lastname", *IDS) if customer.get(k)}
    if name in ("add", "update"):  # a succeeded add/update names the customer's user_id
        out = {"user_id": customer["user_id"], **out}
    if name == "notes":
        out["notes"] = {"note": customer["notes"]}
    elif name == "tickets":
        out["tickets"] = {"ticket": customer["ticket"]}
    elif name == "preferences":
        out["custom_fields"] = {"field": customer["field"]}
    return {**out, "item_status": OK}


def body_of(request: Request) -> dict[str, Any]:
    raw = request.get_data()
    return xml_to_data(raw) if raw.lstrip()[:1] == b"<" else json.loads(raw or b"{}")


def render(request: Request, data: dict[str, Any]) -> Response:
    fmt = request.args.get("format") or (
        "xml" if "xml" in request.headers.get("Accept", "") else "json")
    body = data_to_xml(data) if fmt == "xml" else data_to_json(data)
    return Response(body, content_type=f"application/{fmt}; charset=utf-8",
                    headers={"X-Cap-Requestid": uuid.uuid4().hex})


class StatefulFake:
    """The WSGI app."""

    def __init__(self, fault: str | None = None) -> None:
        self.store = Store(fault)
        self.replay = create_app(Settings())

    def answer(self, request: Request, name: str) -> Response | None:
        if not self.replay_accepts(request):
            return None  # the replay mock validates like the platform: let it answer
        if request.method == "POST":
            body = body_of(request)
            value = next(iter(body.get("root", {}).values()), [])
            saved = [self.store.save(i) if name in ("add", "update")
                     else self.store.write(name, i) for i in listed(value)]
        else:
            saved = [self.store.find(request.args)]
        found = [view(c, name) for c in saved if c is not None]
        if not found and self.store.fault == "knows_everyone":
            return None  # the replay mock answers any customer with its sample
        if not found:
            return self.not_found(request)
        root, node = SHAPES[name]
        payload: Any = found[0] if len(found) == 1 else found
        return render(request, {"response": {"status": STATUS,
                                             root: {node: payload} if node else found[0]}})

    def not_found(self, request: Request) -> Response:
        """A customer the store does not know: documented item code 1012, request-level 500."""
        op = next(o for o in contract.operations().values()
                  if o.method == request.method and o.path == request.path)
        body = envelope.item_error(op.id, list(op.item), 1012, {})
        response = render(request, body)
        response.status_code = 500
        return response

    def replay_accepts(self, request: Request) -> bool:
        """Validation as the platform does it, borrowed from the replay mock."""
        answer = self.replay.test_client().open(
            request.full_path, method=request.method, data=request.get_data(),
            headers={"Content-Type": request.headers.get("Content-Type", ""),
                     "Accept": request.headers.get("Accept", "")})
        return answer.status_code == 200

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(raw)
        request = Request(environ)
        name = request.path.rsplit("/", 1)[-1]
        response = None
        if request.path.startswith("/v1.1/customer/") and name in SHAPES \
                and request.method in ("GET", "POST"):
            try:
                response = self.answer(request, name)
            except (ValueError, AttributeError, TypeError, CodecError):
                response = None
        if response is None:
            environ["wsgi.input"] = io.BytesIO(raw)
            return self.replay.wsgi_app(environ, start_response)
        return response(environ, start_response)
