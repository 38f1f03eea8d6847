"""Session and CSRF tokens: random, sent to the browser, stored only as digests.

The session cookie carries a random token; the database keeps its SHA-256 digest, so a copy
of the database does not let anyone act as a signed-in user. Each session has its own CSRF
token, compared in constant time.

Pure module: standard library only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["new_token", "token_digest", "tokens_match"]

_TOKEN_BYTES = 32


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(_TOKEN_BYTES)


def token_digest(token: str) -> str:
    """The hex SHA-256 digest under which a session token is stored.

    Examples:
        >>> len(token_digest("abc")), token_digest("abc") == token_digest("abc")
        (64, True)
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def tokens_match(expected: str, given: str | None) -> bool:
    """Constant-time comparison; False for a missing or empty token.

    Examples:
        >>> tokens_match("a1", "a1"), tokens_match("a1", "a2"), tokens_match("a1", None)
        (True, False, False)
    """
    if not given or not expected:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))
