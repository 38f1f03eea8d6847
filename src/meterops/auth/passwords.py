"""Passwords: argon2id hashes and the rules a new password must meet.

Hashes use argon2id with the library's defaults (RFC 9106 low-memory profile), so parameters
can be raised later: :func:`needs_rehash` says when a stored hash is weaker than today's and
the sign-in rehashes it. :data:`DUMMY_HASH` lets a sign-in for an unknown user spend the same
time as one for a known user, so timing does not reveal which user names exist.

Pure module: the argon2 library only.
"""

from __future__ import annotations

from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "DUMMY_HASH",
    "MAX_LENGTH",
    "MIN_LENGTH",
    "hash_password",
    "needs_rehash",
    "password_problems",
    "verify_password",
]

MIN_LENGTH: Final = 12
"""Shortest password accepted [characters] (NIST SP 800-63B asks for at least 8)."""
MAX_LENGTH: Final = 256
"""Longest password accepted [characters]; bounds the hashing work per attempt."""

_HASHER: Final = PasswordHasher()
_COMMON: Final = frozenset(
    {
        "123456789012",
        "password1234",
        "passwordpassword",
        "qwertyuiopas",
        "letmeinletmein",
        "changemechangeme",
        "administrator",
        "welcome12345",
        "meterops1234",
        "smartmeter123",
    }
)

DUMMY_HASH: Final = _HASHER.hash("meterops-dummy-password-for-timing")
"""A valid hash of no user's password, verified when the user name is unknown."""


def password_problems(password: str, *, username: str) -> list[str]:
    """What is wrong with a proposed password, in plain words (empty when it is acceptable).

    Examples:
        >>> password_problems("short", username="ana")
        ['at least 12 characters are needed']
        >>> password_problems("ana-likes-meters", username="ana")
        ['it must not contain the user name']
        >>> password_problems("correct horse battery", username="ana")
        []
    """
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(f"at least {MIN_LENGTH} characters are needed")
    if len(password) > MAX_LENGTH:
        problems.append(f"at most {MAX_LENGTH} characters are allowed")
    if username and username.casefold() in password.casefold():
        problems.append("it must not contain the user name")
    if password and len(set(password)) < 4:
        problems.append("it needs at least 4 different characters")
    if password.casefold() in _COMMON:
        problems.append("it is a commonly used password")
    return problems


def hash_password(password: str) -> str:
    """The argon2id hash of a password (salted; never store the password itself)."""
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash`` (False for a malformed hash).

    Examples:
        >>> stored = hash_password("correct horse battery")
        >>> verify_password(stored, "correct horse battery"), verify_password(stored, "wrong")
        (True, False)
    """
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether a stored hash uses weaker parameters than today's."""
    return _HASHER.check_needs_rehash(stored_hash)
