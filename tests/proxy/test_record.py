"""`capmock proxy --record`: what passes through becomes a sandbox file and named
examples, masked on request. End to end: the replay mock stands in for the
cluster, the recording is seeded into a sandbox store, and the sandbox answers
with what the cluster answered. In process: merging, both formats, masking."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from click.testing import CliRunner
from flask import Flask
from servehelpers import CAPMOCK, Running, running
from serving import serving

from capmock import fixtures
from capmock.mockserver.proxy.cli import command
from capmock.mockserver.proxy.mask import Masker
from capmock.mockserver.proxy.record import Recording, table
from capmock.mockserver.proxy.server import create_app
from capmock.mockserver.sandbox import transfer
from capmock.mockserver.settings import Settings
from capmock.mockserver.wsgi import create_app as create_mock_app
from capmock.openapi import contract
from capmock.openapi.codec import parse_xml, xml_to_data

MEDIA = {"json": "application/json", "xml": "application/xml"}
# The documented requests that show customers and their history (record.yaml).
SHOWING = ["customer_get", "customer_transactions", "customer_redemptions",
           "customer_notes_get", "customer_coupons", "customer_tickets_get",
           "customer_preferences_get", "customer_interaction", "customer_recommendations"]


# --- requests and answers ----------------------------------------------------------------

def documented(operation: str, fmt: str,
               drop: tuple[str, ...] = ()) -> tuple[str, str, bytes | None]:
    """Method, path + query (asking for `fmt`, less the `drop` parameters) and body of
    the documented request."""
    line = fixtures.find(operation, "default", "request", "url").read_text().splitlines()[0]
    method, target = line.split(" ", 1)
    base, _, query = target.partition("?")
    kept = [p for p in query.split("&")
            if p and p.split("=", 1)[0] not in ("format", *drop)]
    path = base + "?" + "&".join([*kept, f"format={fmt}"])
    body = fixtures.find(operation, "default", "request", fmt) if method == "POST" else None
    return method, path, body.read_bytes() if body else None


def sample(operation: str, fmt: str) -> Any:
    return parsed(fixtures.find(operation, "default", "response", fmt).read_bytes(), fmt)


def parsed(body: bytes, fmt: str) -> Any:
    return xml_to_data(body) if fmt == "xml" else json.loads(body)


def send(pool: urllib3.PoolManager, base: str, operation: str, fmt: str,
         drop: tuple[str, ...] = ()) -> Any:
    method, path, body = documented(operation, fmt, drop)
    headers = {"Content-Type": MEDIA[fmt]} if body else {}
    reply = pool.request(method, base + path, body=body, headers=headers)
    assert reply.status < 500, (operation, fmt, reply.status, reply.data[:200])
    return parsed(reply.data, fmt)


def customer_element(data: Any, operation: str) -> dict[str, Any]:
    """The first customer element of an answer, where record.yaml says it is."""
    node: Any = data["response"]
    for step in table()["operations"][operation]["customers"]:
        node = node[step]
        node = node[0] if isinstance(node, list) else node
    return node


@pytest.fixture
def pool() -> Iterator[urllib3.PoolManager]:
    manager = urllib3.PoolManager(retries=False)
    yield manager
    manager.clear()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Running]:
    """`capmock serve` (replay) standing in for the real cluster."""
    with running(tmp_path / "cluster.log") as server:
        yield server


def stop(server: Running, sig: int = signal.SIGTERM) -> str:
    """SIGTERM (a container stop) or SIGINT (Ctrl-C); the server's output."""
    server.process.send_signal(sig)
    assert server.process.wait(timeout=20) == 0, server.output()
    return server.output()


def seed_and_serve(tmp_path: Path, recording: Path) -> Any:
    """`capmock seed FILE --store S --replace`, then `capmock serve --mode sandbox --store S`."""
    store = tmp_path / "sandbox.sqlite"
    result = subprocess.run([CAPMOCK, "seed", str(recording), "--store", str(store),
                             "--replace"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return running(tmp_path / "sandbox.log", "--mode", "sandbox", "--store", str(store))


def record_through_proxy(tmp_path: Path, cluster: Running, pool: urllib3.PoolManager,
                         *flags: str, sig: int = signal.SIGTERM
                         ) -> tuple[Path, Path, dict[tuple[str, str], Any]]:
    """Every SHOWING request in both formats through `capmock proxy --record`; the
    file, the examples folder and the answers the client got."""
    file, examples = tmp_path / "recorded.json", tmp_path / "examples"
    answers = {}
    with running(tmp_path / "proxy.log", "--upstream", cluster.base, "--record", str(file),
                 "--record-examples", str(examples), "--record-interval", "3600", *flags,
                 command="proxy", ready_path="/__capmock/violations") as proxy:
        for operation in SHOWING:
            for fmt in ("json", "xml"):
                answers[operation, fmt] = send(pool, proxy.base, operation, fmt)
        before = transfer.parse(file.read_bytes())  # written at start, not since (interval)
        output = stop(proxy, sig)
    assert before["customers"] == [], "the periodic write ran; the test needs the final one"
    assert "recording to" in output
    return file, examples, answers


# --- end to end -----------------------------------------------------------------------------

@pytest.mark.slow
def test_a_recording_seeds_a_sandbox_that_answers_as_the_cluster_did(
        tmp_path: Path, cluster: Running, pool: urllib3.PoolManager) -> None:
    file, examples, answers = record_through_proxy(tmp_path, cluster, pool)
    data = transfer.parse(file.read_bytes())  # the sandbox file's schema and cleanliness
    mobiles = [c["mobile"] for c in data["customers"]]
    assert len(mobiles) == len(set(mobiles)), "a customer seen twice was recorded twice"
    shown = customer_element(answers["customer_get", "json"], "customer_get")
    with seed_and_serve(tmp_path, file) as sandbox:
        got = send(pool, sandbox.base, "customer_get", "xml")
        for fmt in ("json", "xml"):  # the XML answer was recorded into the same customer
            again = customer_element(send(pool, sandbox.base, "customer_get", fmt),
                                     "customer_get")
            for name in ("firstname", "lastname", "mobile", "email", "current_slab",
                         "registered_on", "extended_fields"):
                assert str(again[name]) == str(shown[name]), (fmt, name)
        assert got["response"]["status"]["success"] == "true"
        # associate_id filters notes by a field no answer shows: the read-back omits it
        for operation, records in (("customer_notes_get", ("notes", "note")),
                                   ("customer_tickets_get", ("tickets", "ticket")),
                                   ("customer_transactions", ("transactions", "transaction"))):
            cluster_said = customer_element(answers[operation, "json"], operation)
            sandbox_says = customer_element(
                send(pool, sandbox.base, operation, "json", drop=("associate_id",)), operation)
            assert listed(sandbox_says, records) == listed(cluster_said, records), operation
            # (the samples give mobile 44700900999 two names: the later answer's win)
            assert sandbox_says["mobile"] == cluster_said["mobile"]
    index = fixtures.parse_yaml((examples / "examples.yaml").read_text())
    names = {(e["operation"], e["role"], e["format"]) for e in index}
    assert {("customer_get", "response", "json"), ("customer_get", "response", "xml"),
            ("customer_get", "request", "url")} <= names
    for entry in index:
        assert (examples / entry["file"]).is_file(), entry["file"]
    xml = (examples / "customer_get" / "recorded-200-1000.response.xml").read_bytes()
    assert contract.xml_errors("customer_get", "response", parse_xml(xml), "lenient") == []


def listed(element: dict[str, Any], path: tuple[str, str]) -> list[dict[str, Any]]:
    """A repeated element as a list of objects, numbers as text (as either format shows it)."""
    node = element.get(path[0])
    node = node.get(path[1]) if isinstance(node, dict) else None
    items = node if isinstance(node, list) else [node] if node else []
    return [json.loads(json.dumps(i), parse_int=str, parse_float=str) for i in items]


@pytest.mark.slow
def test_a_masked_recording_holds_no_original_and_still_seeds(
        tmp_path: Path, cluster: Running, pool: urllib3.PoolManager) -> None:
    file, examples, answers = record_through_proxy(tmp_path, cluster, pool,
                                                   "--mask", "--mask-seed", "test-key",
                                                   sig=signal.SIGINT)
    data = transfer.parse(file.read_bytes())
    originals = {str(customer_element(a, op)[k]) for (op, _), a in answers.items()
                 for k in ("mobile", "email", "external_id", "firstname", "lastname")
                 if customer_element(a, op).get(k)}
    written = file.read_text() + "".join(p.read_text() for p in examples.rglob("*") if p.is_file())
    # as a word: "1234" (an external_id) may stay inside "TestBill-1234", another value
    left = [o for o in originals if re.search(rf"(?<![\w.@-]){re.escape(o)}(?![\w@-])", written)]
    assert originals and not left
    mobile = re.compile(schema_pattern("mobile"))
    email = re.compile(schema_pattern("email"))
    for customer in data["customers"]:
        assert mobile.fullmatch(customer["mobile"]), customer["mobile"]
        assert email.fullmatch(customer["email"]), customer["email"]
    # the same customer, masked the same way in the file and in every example
    get_example = json.loads((examples / "customer_get" / "recorded-200-1000.response.json")
                             .read_text())
    masked = customer_element(get_example, "customer_get")
    notes_example = json.loads(
        (examples / "customer_notes_get" / "recorded-200-1000.response.json").read_text())
    recorded = [c for c in data["customers"] if c["mobile"] == masked["mobile"]]
    assert len(recorded) == 1 and recorded[0]["firstname"] == masked["firstname"]
    notes_customer = customer_element(notes_example, "customer_notes_get")
    assert notes_customer["mobile"] in {c["mobile"] for c in data["customers"]}
    url = (examples / "customer_get" / "recorded-200-1000.request.url").read_text()
    assert f"mobile={masked['mobile']}" in url
    with seed_and_serve(tmp_path, file) as sandbox:
        reply = pool.request("GET", f"{sandbox.base}/v1.1/customer/get?format=json"
                                    f"&mobile={masked['mobile']}")
        again = customer_element(json.loads(reply.data), "customer_get")
        assert (again["firstname"], again["email"]) == (masked["firstname"], masked["email"])


def schema_pattern(name: str) -> str:
    """The contract's pattern of a simple type (the mobile, email ... of schemas.yaml)."""
    spec = contract.spec()
    found = [p["schema"]["pattern"] for item in spec["paths"].values() for op in item.values()
             if isinstance(op, dict) for p in op.get("parameters", [])
             if p.get("name") == name and "pattern" in p.get("schema", {})]
    assert found, f"the contract has no {name} parameter with a pattern"
    return found[0]


@pytest.mark.slow
def test_the_recording_is_written_periodically_and_whole(
        tmp_path: Path, cluster: Running, pool: urllib3.PoolManager) -> None:
    file = tmp_path / "recorded.json"
    with running(tmp_path / "proxy.log", "--upstream", cluster.base, "--record", str(file),
                 "--record-interval", "0.2", command="proxy",
                 ready_path="/__capmock/violations") as proxy:
        send(pool, proxy.base, "customer_get", "json")
        deadline = time.monotonic() + 10
        while not transfer.parse(file.read_bytes())["customers"]:  # never half a file
            assert time.monotonic() < deadline, "the periodic write did not come"
            time.sleep(0.05)
        leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        assert leftovers == []
        stop(proxy)


# --- in process: merging, formats, masking -------------------------------------------------

@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with serving(create_mock_app(Settings())) as base:
        yield base


@pytest.fixture
def recorder(tmp_path: Path, upstream: str) -> Iterator[Callable[..., Flask]]:
    apps: list[Flask] = []

    def make(**settings: Any) -> Flask:
        apps.append(create_app(upstream, record=str(tmp_path / "r.json"),
                               record_interval=3600, **settings))
        return apps[-1]

    yield make
    for app in apps:
        app.extensions["capmock_proxy"].close()


def recorded(app: Flask) -> dict[str, Any]:
    proxy = app.extensions["capmock_proxy"]
    proxy.recorder.flush()
    return transfer.parse(Path(proxy.recorder.file).read_bytes())


def through(app: Flask, operation: str, fmt: str) -> None:
    method, path, body = documented(operation, fmt)
    app.test_client().open(path, method=method, data=body,
                           content_type=MEDIA[fmt] if body else None)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_either_format_records_the_same_customer(fmt: str,
                                                 recorder: Callable[..., Flask]) -> None:
    app = recorder()
    through(app, "customer_notes_get", fmt)
    customers = recorded(app)["customers"]
    assert len(customers) == 1
    assert customers[0]["mobile"] == "44700900999"
    shown = customer_element(sample("customer_notes_get", fmt), "customer_notes_get")
    assert customers[0]["records"]["notes"] == listed(shown, ("notes", "note"))
    assert customers[0]["user_id"] == shown["user_id"]


def test_repeated_answers_merge_into_one_customer(recorder: Callable[..., Flask]) -> None:
    app = recorder()
    for _ in range(2):
        for fmt in ("json", "xml"):
            through(app, "customer_notes_get", fmt)
            through(app, "customer_tickets_get", fmt)
    customers = recorded(app)["customers"]
    assert len(customers) == 1, [c.get("user_id") for c in customers]
    records = customers[0]["records"]
    notes = customer_element(sample("customer_notes_get", "json"), "customer_notes_get")
    tickets = customer_element(sample("customer_tickets_get", "json"), "customer_tickets_get")
    assert records["notes"] == listed(notes, ("notes", "note"))
    assert records["tickets"] == listed(tickets, ("tickets", "ticket"))


def test_an_unsuccessful_item_is_not_recorded(recorder: Callable[..., Flask]) -> None:
    app = recorder()
    app.test_client().get("/v1.1/customer/get?mobile=19889999999&format=json",
                          headers={"Prefer": "code=1012"})
    assert recorded(app)["customers"] == []


def test_masks_are_consistent_keyed_and_valid() -> None:
    keys = table()["mask"]
    one, same, other = Masker("a", keys), Masker("a", keys), Masker("b", keys)
    for kind, value in (("mobile", "919740798372"), ("email", "Tom@Example.com"),
                        ("external_id", "ts 1234"), ("user_id", "5532354"), ("name", "Tom")):
        assert one.value(kind, value) == same.value(kind, value) != other.value(kind, value)
        assert one.value(kind, value) != value
    assert re.fullmatch(schema_pattern("mobile"), one.value("mobile", "+44 7009"))
    assert len(one.value("user_id", "5532354")) == 9  # short ids get 9 digits: no collisions
    assert len(one.value("user_id", "12345678901")) == 11
    assert one.tree({"q": "mobile:IN:919740798372;447"}) == {
        "q": f"mobile:IN:{one.value('mobile', '919740798372')};447"}


def test_a_recording_masks_what_it_learnt_everywhere() -> None:
    recording = Recording(Masker("k", table()["mask"]))
    answer = json.dumps({"response": {"status": {"code": 200}, "customer": {
        "mobile": "919740798372", "email": "a.b@c.com", "firstname": "Vimal",
        "notes": {"note": {"id": "1", "description": "call Vimal at 919740798372"}},
        "item_status": {"success": "true", "code": "1000"}}}}).encode()
    assert recording.observe("customer_notes_get", "GET", "/v1.1/customer/notes",
                             "mobile=919740798372", [("mobile", "919740798372")],
                             (b"", None), 200, (answer, "application/json"))
    text = json.dumps(recording.sandbox_file()) + "".join(
        v.decode() for v in recording.example_files().values())
    assert "919740798372" not in text and "Vimal" not in text and "a.b@c.com" not in text
    assert recording.masker is not None
    assert f"call {recording.masker.seen['Vimal']} at" in text


# --- refusals before serving ------------------------------------------------------------------

@pytest.mark.parametrize(("args", "message"), [
    (["--record", "/no/such/folder/r.json"], "/no/such/folder) does not exist"),
    (["--record", "/proc/r.json"], "(/proc) is not writable"),
    (["--record", "{tmp}"], "is a directory"),
    (["--record", "{tmp}/file/r.json"], "is not a directory"),
    (["--record", "{tmp}/r.json", "--workers", "2"], "--record needs --workers 1"),
    (["--mask"], "--mask needs --record FILE"),
    (["--record", "{tmp}/r.json", "--record-examples", "/no/such/folder/x"], "does not exist"),
])
def test_a_bad_record_path_is_one_line_and_exit_2(args: list[str], message: str,
                                                  tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = CliRunner().invoke(command, ["--upstream", "http://127.0.0.1:9", "--port", "0",
                                          *args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output
