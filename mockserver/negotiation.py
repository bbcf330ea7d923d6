"""Format negotiation for the mock: the contract layer's rules
(`capmock.openapi.negotiation`, shared with the proxy and the conformance
suite, so all three judge `format=`, Accept and Content-Type alike), with a
client error turned into the mock's Rejection (request-level 400).
"""

from __future__ import annotations

from capmock.mockserver.errors import Rejection
from capmock.mockserver.http import MockRequest
from capmock.openapi import negotiation
from capmock.openapi.negotiation import MEDIA, accept_format

BAD_REQUEST = 400

__all__ = ["MEDIA", "accept_format", "response_format"]


def response_format(request: MockRequest, default: str) -> str:
    """The format of the answer: format= overrides Accept, then the default."""
    try:
        return negotiation.response_format(request.query, request.header("accept"), default)
    except negotiation.NegotiationError as error:
        raise Rejection(BAD_REQUEST, str(error)) from None

