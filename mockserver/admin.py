"""Admin endpoints under the reserved prefix /__capmock/: health, the request
journal, and the contract (OpenAPI document, code table, XSDs, reference page)
at stable URLs. The sandbox's own endpoints (/__capmock/sandbox/...) are the
sandbox's blueprint (mockserver/sandbox/admin.py).

`guard` runs before every request of the app (the rules are access.py's and
auth.py's): the Host check for all, then for everything under /__capmock/ but
health the cross-site rules and the admin credentials. The admin endpoints
answer refusals in their own JSON, {"error": ...}; the API's are Rejections,
answered by wsgi in the Capillary envelope.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from flask import Blueprint, Response, current_app, request

from capmock.mockserver import access, auth
from capmock.mockserver.bodies import TooLarge, read_body
from capmock.mockserver.errors import Rejection
from capmock.mockserver.forcing import rule_of
from capmock.mockserver.journal import BadFilter, Budget, Report, search, unmatched
from capmock.mockserver.reference import CONTENT_TYPE as HTML
from capmock.mockserver.reference import reference_html
from capmock.mockserver.settings import Settings
from capmock.openapi import contract

PREFIX = access.PREFIX
BAD_REQUEST = 400
JSON = "application/json; charset=utf-8"
YAML = "application/yaml; charset=utf-8"
blueprint = Blueprint("capmock_admin", __name__)


def mock() -> Any:
    return current_app.extensions["capmock"]


def as_json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), status=status, content_type=JSON)


def package_file(name: str) -> bytes:
    return resources.files("capmock.openapi").joinpath(name).read_bytes()


class Guard:
    """The app's before_request (one per app: the Host names are worked out once)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.hosts = access.Hosts.of(settings)

    def __call__(self) -> Response | None:
        """None lets the request through; the API's Host refusal is raised.
        An API request with a good Host costs ~1.3 us here, ~0.9 of it Flask's
        `request` proxy (measured in process)."""
        environ = request.environ
        path = environ.get("PATH_INFO", "")
        admin = path.startswith(PREFIX)
        host = environ.get("HTTP_HOST")
        if not admin and self.hosts.allows(host):
            return None
        if path == access.OPEN:
            return None
        wrong_host = self.hosts.refusal(host)
        if wrong_host is not None:
            if not admin:
                raise Rejection(BAD_REQUEST, wrong_host)
            return as_json({"error": wrong_host}, BAD_REQUEST)
        return self.admin_refusal()

    def admin_refusal(self) -> Response | None:
        refusal = (access.cross_site_refusal(request.method, request.headers)
                   or auth.admin_refusal(request.headers.get("authorization", ""),
                                         self.settings))
        if refusal is None:
            return None
        answer = as_json({"error": refusal.message}, refusal.status)
        if refusal.challenge:
            answer.headers["WWW-Authenticate"] = refusal.challenge
        return answer


@blueprint.get("/health")
def health() -> Response:
    return as_json({"status": "ok", "mode": mock().settings.mode,
                    "operations": len(contract.operations())})


@blueprint.route("/journal", methods=["GET", "DELETE"])
def journal() -> Response:
    """GET: the entries, oldest first, how many were dropped to stay within
    the budget since the last DELETE, and the budget; DELETE clears."""
    if request.method == "DELETE":
        return as_json({"cleared": mock().journal.clear()})
    report = mock().journal.read()
    return as_json({"entries": report.entries, "dropped": report.dropped,
                    "limits": Budget.of(mock().settings).limits()})


def journal_search(answer: Any) -> Response:
    """A journal search's answer, or 400 with the one-line reason."""
    try:
        return as_json(answer(mock().journal.read(), list(request.args.items(multi=True))))
    except BadFilter as error:
        return as_json({"error": str(error)}, BAD_REQUEST)


@blueprint.get("/journal/find")
def journal_find() -> Response:
    """The entries matching the filters (journal.Filter), with closest=N the nearest misses."""
    return journal_search(search)


@blueprint.get("/journal/count")
def journal_count() -> Response:
    return journal_search(lambda report, pairs: {
        key: value for key, value in search(report, pairs).items() if key != "entries"})


@blueprint.get("/journal/unmatched")
def journal_unmatched() -> Response:
    """The requests that matched no operation or were refused, with the reason."""
    return journal_search(lambda report, pairs: unmatched(report) if not pairs
                          else search(Report(unmatched(report)["entries"], report.dropped),
                                      pairs))


@blueprint.route("/force", methods=["GET", "POST", "DELETE"])
def force() -> Response:
    """POST: answer the next `times` requests (of `operation`) as if they sent
    Prefer code=/item=/example=/delay=/fault= (forcing.py); GET lists what is
    pending, DELETE clears it."""
    forcing = mock().forcing
    if request.method == "DELETE":
        return as_json({"cleared": forcing.clear()})
    if request.method == "POST":
        try:
            forcing.add(rule_of(json.loads(read_body(request.environ, 65_536) or b"null")))
        except (ValueError, TooLarge) as error:  # BadForce, JSONDecodeError, a large body
            return as_json({"error": f"cannot force: {error}"}, BAD_REQUEST)
    return as_json({"forced": forcing.listed()})


@blueprint.get("/openapi.yaml")
def spec_yaml() -> Response:
    return Response(package_file(contract.SPEC_NAME), content_type=YAML)


@blueprint.get("/openapi.json")
def spec_json() -> Response:
    """The document with its JSON response examples on the wire this mock serves
    (--wire), so the reference page shows what the mock answers."""
    return as_json(contract.spec_on_wire(mock().settings.wire))


@blueprint.get("/codes.yaml")
def code_table() -> Response:
    return Response(package_file("codes.yaml"), content_type=YAML)


@blueprint.get("/xsd/<name>")
def xsd(name: str) -> Response:
    known = {path.rsplit("/", 1)[1] for op in contract.operations().values()
             for path in op.xsd.values()}
    if name not in known:
        return as_json({"error": f"no XSD named {name}"}, status=404)
    return Response(package_file(f"xsd/{name}"), content_type="application/xml; charset=utf-8")


@blueprint.get("/docs")
def docs() -> Response:
    """The API reference page; it renders offline from openapi.json."""
    return Response(reference_html(), content_type=HTML)
