"""`capmock proxy --record FILE [--record-examples DIR] [--mask]`: what passed
through, written as a sandbox file and as named examples.

- **The sandbox file** (FILE; mockserver/sandbox/sandbox-file.schema.yaml, what
  `capmock seed FILE` loads): every customer the upstream's successful answers
  showed (record.yaml says where each operation's answer shows them), with its
  profile, its field lists and its history as records by kind. A customer seen
  again (in another answer, the other format, another operation) is the same
  entry when it shares any identifier (user_id, mobile, email, external_id)
  with it: later non-empty values win, an empty one never erases, and records
  are merged by their key (id; code for tickets, name for interactions).
  Values are text, as the XML form carries them, so a JSON and an XML answer
  about one customer record the same thing. An element whose item_status says
  success "false" (not found, refused) is left out.
- **The examples** (DIR, optional): the last answer of each operation, format
  and outcome, in the layout of fixtures/samples/: `<operation>/<name>.request.url`,
  `<name>.request.<fmt>` (a POST's body), `<name>.response.<fmt>`, where the name is
  `recorded-<HTTP status>-<code>` (the first item's code, else the request-level
  one: `recorded-200-1000`), and `examples.yaml`, their index in samples.yaml's form.
- **--mask** (mask.py): every identifier and name masked, consistently, in
  both; without it the upstream's bytes are written as they came.

Written safely: each file is written whole to a temporary file beside it and
renamed over it (never half a file), every `interval` seconds when something
changed, and once more when the worker stops (SIGTERM, SIGINT: granian stops
its workers with SIGTERM). An existing FILE is replaced by the recording.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import multiprocessing.util
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from capmock import fixtures
from capmock.mockserver.proxy.mask import Masker
from capmock.mockserver.sandbox.sandboxfile import FORMAT, dumps, schema_problem
from capmock.openapi import clean, negotiation
from capmock.openapi.codec import CodecError, data_to_xml, xml_to_data
from capmock.openapi.contract import as_text

LOG = logging.getLogger("capmock.proxy")
IDENTIFIERS = ("user_id", "mobile", "email", "external_id")
USER_ID_DIGITS = 18  # the sandbox file's user_id pattern
INTERVAL_S = 2.0
URL_SAFE = ":;,@+"
Doc = dict[str, Any]


@cache
def table() -> dict[str, Any]:
    """record.yaml."""
    return fixtures.parse_yaml(resources.files(__package__).joinpath("record.yaml")
                               .read_text("utf-8"))


# --- reading answers ---------------------------------------------------------------------

def read_body(body: bytes, content_type: str | None) -> tuple[str, Any] | None:
    """(format, data) of a JSON or XML body (XML read through the codec), or None."""
    fmt = negotiation.content_format(content_type)
    if fmt is None and body.strip():
        fmt = negotiation.sniff(body)
    try:
        if fmt == "json":
            return fmt, json.loads(body)
        if fmt == "xml":
            return fmt, xml_to_data(body)
    except (ValueError, CodecError, RecursionError):
        return None
    return None


def each(value: Any) -> list[Any]:
    """A repeated element's values (one object or a list of them)."""
    if isinstance(value, list):
        return value
    return [] if value is None or value == "" else [value]


def at(data: Any, path: list[str]) -> list[Doc]:
    """The objects at `path`, through every repeated element on the way."""
    found = [data]
    for step in path:
        found = [v for d in found if isinstance(d, dict) for v in each(d.get(step))]
    return [d for d in found if isinstance(d, dict)]


def empty(value: Any) -> bool:
    return value is None or value in ("", [], {})


def failed(element: Doc) -> bool:
    status = element.get("item_status")
    return isinstance(status, dict) and str(status.get("success")).lower() == "false"


def first_code(data: Any) -> str:
    """The first item_status code in an answer, else its request-level code ("" if none)."""
    stack = [data]
    while stack:
        node = stack.pop(0)
        if isinstance(node, dict):
            status = node.get("item_status")
            if isinstance(status, dict) and not empty(status.get("code")):
                return str(status["code"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    response = data.get("response") if isinstance(data, dict) else None
    status = response.get("status") if isinstance(response, dict) else None
    return str(status.get("code", "")) if isinstance(status, dict) else ""


# --- customers ----------------------------------------------------------------------------

@dataclass
class Entry:
    """One recorded customer: its profile doc and its records by kind and key."""

    doc: Doc = field(default_factory=dict)
    records: dict[str, dict[str, Doc]] = field(default_factory=dict)

    def identifiers(self) -> set[tuple[str, str]]:
        """(name, value) of each identifier it has (emails compare without case)."""
        return {(n, str(self.doc[n]).strip().lower() if n == "email" else str(self.doc[n]))
                for n in IDENTIFIERS if not empty(self.doc.get(n))}

    def update(self, doc: Doc) -> None:
        for name, value in doc.items():
            if not empty(value):
                self.doc[name] = value

    def add_record(self, kind: str, doc: Doc) -> None:
        key_name = table().get("record_keys", {}).get(kind, "id")
        key = doc.get(key_name)
        key = str(key) if not empty(key) else json.dumps(doc, sort_keys=True)
        kept = self.records.setdefault(kind, {})
        merged = kept.get(key, {})
        merged.update({k: v for k, v in doc.items() if not empty(v) or k not in merged})
        kept[key] = merged

    def absorb(self, other: Entry) -> None:
        self.update(other.doc)
        for kind, docs in other.records.items():
            for doc in docs.values():
                self.add_record(kind, doc)

    def file_entry(self) -> Doc:
        out = dict(self.doc)
        if out.get("user_id") is not None and not valid_user_id(out["user_id"]):
            del out["user_id"]
        if self.records:
            out["records"] = {kind: list(docs.values()) for kind, docs in self.records.items()}
        return out


def valid_user_id(value: Any) -> bool:
    text = str(value)
    return text.isascii() and text.isdigit() and text[0] != "0" and len(text) <= USER_ID_DIGITS


def customer_doc(element: Doc, plan: Doc) -> Doc:
    """The profile, field lists and user id an answer's customer element shows."""
    doc: Doc = {n: element[n] for n in table()["profile"]
                if n in element and not (n in IDENTIFIERS and empty(element[n]))}
    id_key = plan.get("user_id")
    if id_key and not empty(element.get(id_key)):
        doc["user_id"] = str(element[id_key])
    for name, path in (plan.get("fields") or {}).items():
        pairs = [p for p in at(element, path) if "name" in p]
        if pairs:
            doc[name] = [{"name": p["name"], "value": p.get("value", "")} for p in pairs]
    return as_text(doc)


@dataclass
class Example:
    """The last exchange of one operation, format and outcome."""

    operation: str
    name: str
    request_line: str
    query_string: str
    query: list[tuple[str, str]]
    request: tuple[str, bytes, Any] | None  # format, body, its data
    response: tuple[str, bytes, Any]


# --- the recording -------------------------------------------------------------------------

@dataclass
class Recording:
    """Everything recorded so far (in memory; rendered when written)."""

    masker: Masker | None = None
    customers: list[Entry] = field(default_factory=list)
    examples: dict[tuple[str, str, str], Example] = field(default_factory=dict)
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(
        timespec="seconds"))

    def observe(self, operation: str, method: str, path: str, query_string: str,
                query: list[tuple[str, str]], request: tuple[bytes, str | None], status: int,
                response: tuple[bytes, str | None]) -> bool:
        """Take one exchange in; whether anything was recorded."""
        answer = read_body(*response)
        if answer is None:
            return False
        sent = read_body(*request) if request[0].strip() else None
        if self.masker is not None:
            self.masker.learn(answer[1])
            self.masker.query(query)
            if sent is not None:
                self.masker.learn(sent[1])
        name = f"recorded-{status}-{first_code(answer[1]) or 'none'}"
        line = f"{method} {path}"
        self.examples[(operation, name, answer[0])] = Example(
            operation, name, line, query_string, query,
            (sent[0], request[0], sent[1]) if sent else None, (answer[0], response[0], answer[1]))
        plan = table()["operations"].get(operation)
        if plan is not None and status < 300:
            self.take_customers(answer[1], plan)
        return True

    def take_customers(self, data: Any, plan: Doc) -> None:
        response = data.get("response") if isinstance(data, dict) else None
        for element in at(response, plan["customers"]):
            if failed(element):
                continue
            entry = Entry(customer_doc(element, plan))
            for kind, path in (plan.get("records") or {}).items():
                for doc in at(element, path):
                    entry.add_record(kind, as_text(doc))
            if entry.identifiers():
                self.merge(entry)

    def merge(self, entry: Entry) -> None:
        """Into the entry (or entries, now one) sharing an identifier, else a new one."""
        ids = entry.identifiers()
        same = [e for e in self.customers if e.identifiers() & ids]
        if not same:
            self.customers.append(entry)
            return
        first = same[0]
        for other in same[1:]:
            first.absorb(other)
            self.customers.remove(other)
        first.absorb(entry)

    # --- rendering -------------------------------------------------------------------------

    def masked(self, data: Any) -> Any:
        return self.masker.tree(data) if self.masker is not None else data

    def sandbox_file(self) -> Doc:
        """The sandbox file; a customer that it could not carry is left out, logged."""
        customers = []
        for entry in self.customers:
            item = self.masked(entry.file_entry())
            problem = clean.data_problem(item) or schema_problem(
                {**FORMAT, "customers": [item]})
            if problem is None:
                customers.append(item)
            else:
                LOG.error("--record: a customer left out of the file: %s", problem)
        return {**FORMAT, "customers": customers}

    def example_files(self) -> dict[str, bytes]:
        """Relative path -> content of every example file and of examples.yaml."""
        files: dict[str, bytes] = {}
        index = []
        for ex in self.examples.values():
            stem = f"{ex.operation}/{ex.name}"
            files[f"{stem}.request.url"] = self.url_line(ex).encode()
            index.append(index_entry(ex, "request", "url", self.started))
            if ex.request is not None:
                fmt = ex.request[0]
                files[f"{stem}.request.{fmt}"] = self.body(*ex.request)
                index.append(index_entry(ex, "request", fmt, self.started))
            fmt = ex.response[0]
            files[f"{stem}.response.{fmt}"] = self.body(*ex.response)
            index.append(index_entry(ex, "response", fmt, self.started))
        files["examples.yaml"] = (EXAMPLES_HEAD + yaml.safe_dump(
            index, sort_keys=False, allow_unicode=True)).encode()
        return files

    def url_line(self, ex: Example) -> str:
        """The request line as fixtures/samples/*.request.url write it (masked: rebuilt)."""
        text = ex.query_string
        if self.masker is not None:
            text = "&".join(f"{quote(n, safe=URL_SAFE)}={quote(v, safe=URL_SAFE)}"
                            for n, v in self.masker.query(ex.query))
        return f"{ex.request_line}{'?' + text if text else ''}\n"

    def body(self, fmt: str, raw: bytes, data: Any) -> bytes:
        if self.masker is None:
            return raw
        masked = self.masker.tree(data)
        if fmt == "xml":
            return data_to_xml(masked)
        return json.dumps(masked, ensure_ascii=False, indent=1).encode() + b"\n"


EXAMPLES_HEAD = ("# Examples recorded by capmock proxy --record-examples, in the layout and\n"
                 "# index form of fixtures/samples/ and fixtures/samples.yaml: the last\n"
                 "# answer of each operation, format and outcome.\n")


def index_entry(ex: Example, role: str, fmt: str, started: str) -> Doc:
    return {"file": f"{ex.operation}/{ex.name}.{role}.{fmt}", "operation": ex.operation,
            "example": ex.name, "role": role, "format": fmt,
            "source": {"recorded": f"capmock proxy, from {started}"},
            "derived_from": None, "defects": []}


# --- writing -------------------------------------------------------------------------------

def write_atomically(path: Path, content: bytes) -> None:
    """The whole content at `path`, or (on any failure) what was there before."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        Path(temp).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temp).unlink()
        raise


def record_path_problem(path: Path) -> str | None:
    """Why FILE cannot be recorded to (checked before serving), or None."""
    if path.is_dir():
        return f"{path} is a directory"
    return directory_problem(path.parent, f"the directory of {path}")


def directory_problem(folder: Path, what: str) -> str | None:
    """Why a temporary file cannot be created and renamed in `folder`, or None."""
    if not folder.exists():
        return f"{what} ({folder}) does not exist"
    if not folder.is_dir():
        return f"{what} ({folder}) is not a directory"
    try:
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".capmock-probe.", suffix=".tmp")
    except OSError as error:
        return f"{what} ({folder}) is not writable: {error.strerror}"
    os.close(fd)
    Path(temp).unlink()
    return None


class Recorder:
    """A recording, the files it is written to, and the thread that writes them."""

    def __init__(self, file: str, examples: str | None = None, masker: Masker | None = None,
                 interval: float = INTERVAL_S) -> None:
        self.file = Path(file)
        self.examples = Path(examples) if examples else None
        self.recording = Recording(masker)
        self.interval = interval
        self.lock = threading.Lock()  # the recording
        self.writing = threading.Lock()  # the files
        self.dirty = False
        self.written: dict[str, bytes] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name="capmock-record", daemon=True)

    def start(self) -> Recorder:
        """Write the (empty) file now, then every interval; once more at exit."""
        self.flush(force=True)
        self.thread.start()
        atexit.register(self.close)  # a plain process
        multiprocessing.util.Finalize(None, self.close, exitpriority=100)  # granian's workers
        return self

    def observe(self, *args: Any) -> None:
        """Recording.observe under the lock; a failure is logged, never raised."""
        try:
            with self.lock:
                if self.recording.observe(*args):
                    self.dirty = True
        except Exception:
            LOG.exception("--record could not record an exchange")

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                self.flush()
            except Exception:
                LOG.exception("--record could not write %s", self.file)

    def render(self) -> Iterator[tuple[Path, bytes]]:
        yield self.file, dumps(self.recording.sandbox_file()).encode() + b"\n"
        if self.examples is not None:
            for name, content in self.recording.example_files().items():
                yield self.examples / name, content

    def flush(self, force: bool = False) -> None:
        """Write what changed since the last write (everything with `force`)."""
        with self.writing:
            with self.lock:
                if not (self.dirty or force):
                    return
                self.dirty = False
                files = list(self.render())
            for path, content in files:
                if force or self.written.get(str(path)) != content:
                    write_atomically(path, content)
                    self.written[str(path)] = content

    def close(self) -> None:
        """Stop the thread and write what is left."""
        self.stop.set()
        self.flush()
