"""Stateful promises, checked on whatever sequence of requests the run sends
(schemathesis's stateful phase follows the document's links: add -> get,
notes POST -> notes GET, ...). Registered in schemathesis's check registry
like the others; they need a server that holds state, and the runner leaves
them out, with the reason in the matrix, when a probe shows it does not.

- registrations_are_read_back: what customer/add registered (and
  customer/update changed) is what customer/get returns;
- identifiers_never_change: update may fill an empty identifier, never
  replace one (document, Register Customers and Update Customer Details);
- writes_are_read_back: notes, tickets and preferences written are read back;
- unknown_customer_is_not_found: a customer nobody registered gets the
  documented not-found item codes (1011, 1012 ...), never a success;
- identity_change_is_pending: update_identity answers item code 1040.
"""

from __future__ import annotations

import threading
from typing import Any

import schemathesis

from capmock.contracts.checks import (
    RunSettings,
    body_data,
    check,
    fail,
    guarded,
    item_statuses,
    not_found_codes,
    operation_of,
)
from capmock.openapi.codec import CodecError, xml_to_data

IDENTIFIERS = ("mobile", "email", "external_id")
UNREGISTERED = "no customer this run registered was read back"
PROFILE = ("firstname", "lastname")
RELEVANT = {  # the operations whose responses each stateful check judges
    "registrations_are_read_back": ("customer_get",),
    "identifiers_never_change": ("customer_get",),
    "writes_are_read_back": ("customer_notes_get", "customer_tickets_get",
                             "customer_preferences_get"),
    "unknown_customer_is_not_found": ("customer_get",),
    "identity_change_is_pending": ("customer_update_identity",),
}


def request_items(case: Any) -> list[dict[str, Any]]:
    """The items of a request body, whichever format it was sent in."""
    body = case.body
    if isinstance(body, bytes | str):
        try:
            body = xml_to_data(body)["root"]
        except (CodecError, KeyError, TypeError):
            return []
    if isinstance(body, dict) and "root" in body:
        body = body["root"]
    if not isinstance(body, dict) or not body:
        return []
    value = next(iter(body.values()))
    items = value if isinstance(value, list) else [value]
    return [i for i in items if isinstance(i, dict)]


def succeeded(response: Any, case: Any) -> list[bool]:
    """Per request item: did it succeed (by its item_status)?"""
    data = body_data(response)
    if data is None:
        return []
    return [str(s.get("success")) == "true" for s in item_statuses(operation_of(case), data)]


def returned_items(case: Any, response: Any) -> list[dict[str, Any]]:
    data = body_data(response)
    if data is None:
        return []
    node: Any = data.get("response") if isinstance(data, dict) else None
    for key in operation_of(case).item:
        node = node.get(key) if isinstance(node, dict) else None
    items = node if isinstance(node, list) else [node] if isinstance(node, dict) else []
    return [i for i in items if isinstance(i, dict)]


def written_items(case: Any, response: Any) -> list[dict[str, Any]]:
    """The request items that succeeded, with the identifiers the answer reports:
    an existing customer keeps a set identifier (the document: "not value to
    value"), and the answer says which one it kept."""
    answered = returned_items(case, response)
    oks = succeeded(response, case)
    written = []
    for index, (item, ok) in enumerate(zip(request_items(case), oks, strict=False)):
        if ok:
            said = identifiers(answered[index]) if index < len(answered) else {}
            written.append({**item, **said})
    return written


def identifiers(item: dict[str, Any]) -> dict[str, str]:
    return {k: str(item[k]) for k in IDENTIFIERS if isinstance(item.get(k), str) and item[k]}


def same_customer(record: dict[str, str], got: dict[str, Any]) -> bool:
    """Every identifier the record knows is the one read back: no guessing."""
    known = identifiers(record)
    return bool(known) and all(str(got.get(k) or "") == v for k, v in known.items())


class CustomerLedger:
    """What the run registered. A registration whose identifiers only partly
    match a known customer is ambiguous (the server may merge or refuse): the
    ledger forgets that customer rather than guess, so a right server never
    gets a false alarm."""

    def __init__(self) -> None:
        self.records: list[dict[str, str]] = []
        self.lock = threading.Lock()

    def overlapping(self, item: dict[str, Any]) -> list[dict[str, str]]:
        ids = identifiers(item)
        return [r for r in self.records if any(r.get(k) == v for k, v in ids.items())]

    def register(self, item: dict[str, Any]) -> None:
        with self.lock:
            found = self.overlapping(item)
            if len(found) == 1 and identifiers(item).items() <= found[0].items():
                found[0].update({k: str(item[k]) for k in PROFILE if item.get(k)})
                return
            for record in found:
                self.records.remove(record)
            if not found:
                self.records.append({k: str(item[k]) for k in (*IDENTIFIERS, *PROFILE)
                                     if isinstance(item.get(k), str) and item[k]})

    def update(self, item: dict[str, Any]) -> None:
        with self.lock:
            found = self.overlapping(item)
            if len(found) != 1:
                return
            record = found[0]
            record.update({k: str(item[k]) for k in PROFILE if item.get(k)})
            for name, value in identifiers(item).items():  # null to value only
                record.setdefault(name, value)

    def find(self, got: dict[str, Any]) -> dict[str, str] | None:
        """The record whose every identifier is the one read back."""
        with self.lock:
            return next((r for r in self.records if same_customer(r, got)), None)

    def find_any(self, got: dict[str, Any]) -> dict[str, str] | None:
        """The one record sharing an identifier with what was read back."""
        found = self.overlapping(got)
        return found[0] if len(found) == 1 else None


def differences(expected: dict[str, str], got: dict[str, Any], fields: tuple[str, ...]) -> list:
    return [f"{f}: registered {expected[f]!r}, read back {got.get(f)!r}"
            for f in fields if f in expected and str(got.get(f) or "") != expected[f]]


class LedgerCheck:
    """A check on customer/get of what customer/add and customer/update wrote:
    `expected` finds the record for what was read back, `fields` are compared."""

    fields: tuple[str, ...] = ()
    problem = ""

    def __init__(self, settings: RunSettings | None = None) -> None:
        self.settings = settings or RunSettings()
        self.ledger = CustomerLedger()

    def expected(self, got: dict[str, Any]) -> dict[str, str] | None:
        raise NotImplementedError

    @guarded
    def after_response(self, ctx: Any, response: Any, case: Any) -> bool | None:
        op = operation_of(case).id
        if op in ("customer_add", "customer_update"):
            for item in written_items(case, response):
                (self.ledger.register if op == "customer_add" else self.ledger.update)(item)
            return True  # a write: remembered, judged when read back
        if op != "customer_get":
            return True
        judged = False
        for got in returned_items(case, response):
            expected = self.expected(got)
            judged = judged or expected is not None
            problems = differences(expected, got, self.fields) if expected else []
            if problems:
                fail(case, self.problem + "; ".join(problems))
        return None if judged else self.settings.not_judged(case, type(self).__name__,
                                                            UNREGISTERED)


@schemathesis.check
class registrations_are_read_back(LedgerCheck):  # named after the property it verifies
    """customer/get returns what customer/add registered and customer/update changed."""

    fields = PROFILE

    def expected(self, got: dict[str, Any]) -> dict[str, str] | None:
        return self.ledger.find(got)


@schemathesis.check
class identifiers_never_change(LedgerCheck):  # named after the property it verifies
    """An identifier, once set, reads back unchanged whatever update sent."""

    fields = IDENTIFIERS
    problem = "an identifier changed: "

    def expected(self, got: dict[str, Any]) -> dict[str, str] | None:
        return self.ledger.find_any(got)


WRITES = {  # write operation -> (read operation, field path in the item, value key)
    "customer_notes_add": ("customer_notes_get", ("notes", "note"), "description"),
    "customer_tickets_add": ("customer_tickets_get", ("tickets", "ticket"), "subject"),
    "customer_preferences_update": ("customer_preferences_get", ("custom_fields", "field"),
                                    "value"),
}


def values_at(item: dict[str, Any], path: tuple[str, ...], key: str) -> set[str]:
    node: Any = item
    for step in path:
        node = node.get(step) if isinstance(node, dict) else None
    nodes = node if isinstance(node, list) else [node] if isinstance(node, dict) else []
    return {str(n[key]) for n in nodes if isinstance(n, dict) and n.get(key)}


def written_values(op: str, item: dict[str, Any]) -> set[str]:
    """What a write request asks the server to keep (a ticket sits at item level)."""
    if op == "customer_tickets_add":
        return values_at(item, ("ticket",), "subject")
    _, path, key = WRITES[op]
    return values_at(item, path, key)


NOT_FILTERS = {"format", "user_id", "identifier"}


def filtered(case: Any) -> bool:
    """Does the read narrow what it returns (associate_id, status, dates ...)? Then
    not everything written is expected back, and the read is not judged."""
    op = operation_of(case)
    query = case.query or {}
    return any(name not in NOT_FILTERS and name not in op.identifiers and value not in (None, "")
               for name, value in query.items())


@schemathesis.check
class writes_are_read_back:  # named after the property it verifies
    """Notes, tickets and preferences written for a customer are read back when
    the same customer (all the identifiers the write named) is read."""

    def __init__(self, settings: RunSettings | None = None) -> None:
        self.settings = settings or RunSettings()
        self.written: list[tuple[str, dict[str, str], set[str]]] = []

    @guarded
    def after_response(self, ctx: Any, response: Any, case: Any) -> bool | None:
        op = operation_of(case).id
        if op in WRITES:
            for item, ok in zip(request_items(case), succeeded(response, case), strict=False):
                if ok and identifiers(item):
                    self.written.append((WRITES[op][0], identifiers(item),
                                         written_values(op, item)))
            return True
        reads = {read: (path, value) for read, path, value in WRITES.values()}
        if op not in reads:
            return True
        if filtered(case):
            return self.settings.not_judged(case, "writes_are_read_back",
                                            "the read was filtered")
        if not self.compare(case, response, op, reads[op]):
            return self.settings.not_judged(case, "writes_are_read_back",
                                            "no customer this run wrote for was read back")
        return None

    def compare(self, case: Any, response: Any, op: str, where: tuple) -> bool:
        """Fail on what is missing; True if anything written was expected back."""
        judged = False
        for got in returned_items(case, response):
            expected = set().union(*[values for read, ids, values in self.written
                                     if read == op and same_customer(ids, got)])
            judged = judged or bool(expected)
            missing = expected - values_at(got, *where)
            if missing:
                fail(case, f"written but not read back: {', '.join(sorted(missing))}")
        return judged


@check
def identity_change_is_pending(run: RunSettings, response: Any, case: Any) -> bool | None:
    """customer/update_identity records a request for the back office: item 1040."""
    if operation_of(case).id != "customer_update_identity":
        return True
    statuses = item_statuses(operation_of(case), body_data(response))
    accepted = [s for s in statuses if str(s.get("success")) == "true"]
    if not accepted:
        return run.not_judged(case, "identity_change_is_pending",
                              "no accepted identity change in the answer")
    if any(str(s.get("code")) != "1040" for s in accepted):
        fail(case, "an accepted identity change must answer item code 1040 (pending)")
    return None


def unknown_customer_is_not_found(response: Any, case: Any) -> None:
    """Run by the directed workflow only, for an identifier it never registered:
    not a registered check, since generated requests may name real customers."""
    statuses = item_statuses(operation_of(case), body_data(response))
    codes = [str(s.get("code")) for s in statuses]
    expected = not_found_codes()
    if not codes or any(code not in expected for code in codes):
        fail(case, f"an unknown customer got item code(s) {', '.join(codes) or 'none'}, "
                   f"expected not-found ({', '.join(sorted(expected))})")
