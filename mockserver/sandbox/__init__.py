"""Sandbox mode: a stateful customer service behind the mock, following the
document's rules, on a SQLite (default) or PostgreSQL store."""
