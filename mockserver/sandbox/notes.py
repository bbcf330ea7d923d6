"""customer/notes: Add Customer Notes (POST) and Retrieve Customer Notes (GET).

Records of kind "notes": a note as Retrieve Customer Notes shows it
({id, description, added_on}) plus associate_id (for the associate_id filter).

Decisions where the document is vague:
- A note's date ("Date on which the customer note is added") is its added_on.
- Note ids count per customer (1, 2, ...). A sent id naming an existing note of
  the customer updates that note ("added/updated"); any other id adds a new
  note with the next id, and the answer shows that id (not the sample's -1).
- An update takes the sender's associate_id, description and date.
- The add answer shows the notes of the request (id, date, description).
- GET shows user_id only with user_id=true or when named by user_id (the
  sample's comment); no notes (after the associate_id filter) answers 1028.
"""

from __future__ import annotations

from typing import Any

from capmock.mockserver.sandbox import engagement
from capmock.mockserver.sandbox.engagement import each_item, person, text
from capmock.mockserver.sandbox.results import listed, one_or_many, outcome, status, succeeded
from capmock.mockserver.sandbox.service import Call
from capmock.mockserver.sandbox.store import Customer, Tx
from capmock.openapi import clean

KIND = "notes"
ORDER = ("user_id", "firstname", "lastname", "mobile", "email", "external_id")
NOTE = ("id", "description", "added_on")


def add_notes(call: Call, tx: Tx, customer: Customer, item: dict[str, Any]) -> dict[str, Any]:
    associate = text(item.get("associate_id"))
    stored = {r.doc.get("id"): r for r in tx.records(customer.id, KIND)}
    next_id = max((n for i in stored if (n := clean.whole_number(i)) is not None),
                  default=0) + 1
    shown = []
    notes = item.get("notes")
    if not isinstance(notes, dict):
        notes = {}
    for note in listed(notes.get("note")):
        if not isinstance(note, dict):
            continue
        doc = {"description": text(note.get("description")), "added_on": text(note.get("date")),
               "associate_id": associate}
        record = stored.get(text(note.get("id")))
        if record is not None:
            record.doc.update(doc)
            tx.save_record(record)
            note_id = record.doc["id"]
        else:
            note_id, next_id = str(next_id), next_id + 1
            stored[note_id] = tx.add_record(customer.id, KIND, {"id": note_id, **doc})
        shown.append({"id": note_id, "date": doc["added_on"], "description": doc["description"]})
    return {**person(customer, ORDER), "associate_id": associate,
            "notes": {"note": one_or_many(shown)}, "item_status": succeeded(call.op.id)}


def add(call: Call, tx: Tx) -> dict[str, Any]:
    return each_item(call, tx, add_notes, ORDER)


def notes_of(call: Call, tx: Tx, customer: Customer, item: dict[str, Any]) -> dict[str, Any]:
    associate = call.query.get("associate_id")
    notes = [r.doc for r in tx.records(customer.id, KIND)
             if not associate or r.doc.get("associate_id") == associate]
    order = ORDER if engagement.shows_user_id(call, item) else ORDER[1:]
    out = person(customer, order)
    if not notes:
        return {**out, "item_status": status(call.op.id, outcome(call.op.id, "no_notes"))}
    out["notes"] = {"note": one_or_many([{k: n[k] for k in NOTE if k in n} for n in notes])}
    out["item_status"] = succeeded(call.op.id)
    return out


def get(call: Call, tx: Tx) -> dict[str, Any]:
    return each_item(call, tx, notes_of, ORDER)


HANDLERS = {"customer_notes_add": add, "customer_notes_get": get}
