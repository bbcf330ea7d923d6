"""How a partner tests their client against capmock (run by CI through
tests/partner/test_partner_plugin.py). The fixtures come with `pip install capmock`:
capmock_mock (replay unless marked), capmock_sandbox."""

from __future__ import annotations

import pytest
from loyalty import CustomerNotFound, LoyaltyClient, LoyaltyError

DOCUMENTED = "19889999999"  # the customer of the document's customer/get sample


@pytest.fixture
def client(capmock_mock):
    return LoyaltyClient(capmock_mock.api_url)


def test_points_of_the_documented_customer(client, capmock_mock):
    assert client.points(DOCUMENTED) == 242
    capmock_mock.journal.assert_requested(operation="customer_get",
                                          query={"mobile": DOCUMENTED}, format="json")


def test_an_unknown_customer(client, capmock_mock):
    capmock_mock.force(code=1012, operation="customer_get")
    with pytest.raises(CustomerNotFound):
        client.points("447000000001")
    assert client.points(DOCUMENTED) == 242  # forced once only


def test_a_reset_connection_is_retried_once(client, capmock_mock):
    capmock_mock.force(fault="reset")
    assert client.points(DOCUMENTED) == 242
    assert capmock_mock.journal.count(operation="customer_get") == 2
    assert capmock_mock.journal.count(fault="reset") == 1


@pytest.mark.parametrize("fault", ["empty", "garbage", "truncated"])
def test_a_broken_answer_is_an_error_not_a_crash(client, capmock_mock, fault):
    capmock_mock.force(fault=fault, times=None)  # every request until the next test
    with pytest.raises(LoyaltyError):
        client.points(DOCUMENTED)


def test_nothing_was_sent_for_a_bad_number(client, capmock_mock):
    with pytest.raises(LoyaltyError):
        client.points("12")  # the client sends it; the mock refuses it
    refused = capmock_mock.journal.unmatched()
    assert refused[0]["outcome"] == "refused" and "mobile" in refused[0]["reason"]


def test_registering_then_reading_back(capmock_sandbox):
    client = LoyaltyClient(capmock_sandbox.api_url)
    user_id = client.register("447000000123", "Ada", "ada@example.com")
    assert user_id
    assert client.points("447000000123") == 0
    capmock_sandbox.journal.assert_requested(operation="customer_add", item_code=1000)


def test_the_sandbox_is_reset_for_each_test(capmock_sandbox):
    with pytest.raises(CustomerNotFound):
        LoyaltyClient(capmock_sandbox.api_url).points("447000000123")


@pytest.mark.capmock_mock(mode="replay", args=["--default-format", "xml"])
def test_a_marker_picks_another_server(capmock_mock):
    assert "--default-format" in capmock_mock.args
    assert capmock_mock.journal.count() == 0
