"""Build time of the contract: the generators of `capmock build` and `capmock lint`.

Nothing outside this subpackage imports it (tests/test_architecture.py): run time
(the rest of capmock.openapi, the mock server, the suite) reads only the
committed artifacts these modules write.
"""
