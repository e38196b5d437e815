"""What every page and API of the server shares: JSON answers and the one table of error codes
and HTTP statuses (``errors``), the OpenAPI document, health, security headers and the trusted
proxy, sessions kept in the database, rate limits, and the reader's language.

Depends on: storage, the catalogue (i18n) and the top-level configuration only; the feature
packages depend on it.
"""
