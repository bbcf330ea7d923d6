"""Test-suite wide setup: tests/ is on sys.path (pytest's rootdir conftest), so
shared helpers such as `serving` import by module name from any test folder."""
