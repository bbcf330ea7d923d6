"""The sandbox's admin endpoints under /__capmock/sandbox/: the whole sandbox
(reset, export, import, load) and the back office (identity changes).

A blueprint of its own, registered by the shell (wsgi.create_app) under the
admin prefix, so the admin guard (mockserver/admin.py) runs before each of
them. Outside sandbox mode every one answers 404, saying so.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, request

from capmock.mockserver.admin import JSON, PREFIX, as_json
from capmock.mockserver.bodies import TooLarge, read_body
from capmock.mockserver.sandbox import backoffice, seed, transfer
from capmock.mockserver.sandbox.service import Sandbox, store_refusal
from capmock.mockserver.sandbox.store import Conflict, Store, StoreFailure

NOT_IN_SANDBOX_MODE = "not in sandbox mode (capmock serve --mode sandbox)"
EXTENSION = "capmock_sandbox"  # app.extensions key: the app's Sandbox, or None


blueprint = Blueprint("capmock_sandbox", __name__)


def register(app: Flask, box: Sandbox | None) -> None:
    """Serve this app's sandbox (None: the app is in replay mode) under the admin prefix."""
    app.extensions[EXTENSION] = box
    app.register_blueprint(blueprint, url_prefix=PREFIX)


def sandbox() -> Sandbox:
    box = current_app.extensions.get(EXTENSION)
    if box is None:
        abort(as_json({"error": NOT_IN_SANDBOX_MODE}, 404))
    return box


@blueprint.errorhandler(StoreFailure)
def store_failed(failure: StoreFailure) -> Response:
    """The sandbox's database failed an admin request (gone, or aborting past
    the retries): 503 with the cause in the words the API's envelope uses
    (openapi/rules.yaml store_failure); nothing was changed."""
    return as_json({"error": store_refusal(failure).detail}, 503)


@blueprint.post("/sandbox/reset")
def sandbox_reset() -> Response:
    return as_json({"customers": seed.reset(sandbox().store)})


@blueprint.get("/sandbox/export")
def sandbox_export() -> Response:
    data = transfer.export(sandbox().store)
    return Response(transfer.dumps(data), content_type=JSON,
                    headers={"Content-Disposition": 'attachment; filename="sandbox.json"'})


@blueprint.post("/sandbox/import")
def sandbox_import() -> Response:
    """Replace the whole sandbox by the file in the body (all or nothing)."""
    return sandbox_file(sandbox(), lambda store, data: transfer.replace(store, data))


@blueprint.post("/sandbox/load")
def sandbox_load() -> Response:
    """Add the file's customers and their history (all or nothing)."""
    return sandbox_file(sandbox(), transfer.add)


@blueprint.get("/sandbox/identity_changes")
def identity_changes() -> Response:
    return as_json(backoffice.changes(sandbox().store))


@blueprint.post("/sandbox/identity_changes/<int:change_id>/<any(approve, reject):verdict>")
def identity_change_decision(change_id: int, verdict: str) -> Response:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    try:
        return as_json(backoffice.decide(sandbox().store, change_id, verdict, now))
    except backoffice.NotPending as error:
        return as_json({"error": str(error)}, 404)
    except Conflict as error:
        return as_json({"error": f"cannot approve: {error}"}, 409)


def sandbox_file(box: Sandbox, action: Callable[[Store, Any], Any]) -> Response:
    """Import or load the body, read within the import limit (`--import-limit`,
    Settings.import_limit: an export is larger than any request, and must
    re-import)."""
    try:
        raw = read_body(request.environ, box.settings.import_limit)
        return as_json({"customers": action(box.store, transfer.parse(raw))})
    except TooLarge as error:
        return as_json({"error": f"not a loadable sandbox file: {error} (--import-limit)"}, 400)
    except transfer.BadSandboxFile as error:
        return as_json({"error": f"not a loadable sandbox file: {error}"}, 400)
