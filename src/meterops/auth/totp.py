"""Time-based one-time passwords (TOTP, RFC 6238) for the step-up second factor.

HMAC-SHA1 over the number of 30 s steps since the Unix epoch, dynamic truncation (RFC 4226)
to 6 digits; a code is accepted for the current step and one step either side (clock drift
of an authenticator app). :func:`verify` returns the *step* a code matched, so the caller can
refuse a second use of the same or an earlier step (replay).

Pure module: standard library only.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

__all__ = [
    "DIGITS",
    "SECRET_BYTES",
    "STEP_S",
    "TOLERANCE_STEPS",
    "code_at",
    "hotp",
    "new_secret",
    "otpauth_uri",
    "secret_bytes",
    "step_of",
    "verify",
]

STEP_S = 30
"""Length of one time step [s]."""

DIGITS = 6
"""Digits of a code."""

TOLERANCE_STEPS = 1
"""Steps accepted either side of the current one (clock drift)."""

SECRET_BYTES = 20
"""Length of a new secret [bytes] (160 bits, the HMAC-SHA1 block the RFC recommends)."""


def new_secret() -> str:
    """A fresh random secret, base32 without padding (what authenticator apps take).

    Examples:
        >>> s = new_secret()
        >>> len(s), len(secret_bytes(s))
        (32, 20)
    """
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def secret_bytes(secret: str) -> bytes:
    """The key of a base32 secret (case, spaces and missing padding tolerated).

    Raises:
        ValueError: The text is not base32.

    Examples:
        >>> secret_bytes("GEZD GNBV gy3t qojq")
        b'1234567890'
    """
    text = secret.replace(" ", "").upper()
    text += "=" * (-len(text) % 8)
    try:
        return base64.b32decode(text, casefold=False)
    except (ValueError, TypeError) as error:
        raise ValueError(f"secret is not base32: {error}") from None


def hotp(key: bytes, counter: int, *, digits: int = DIGITS, digest: str = "sha1") -> str:
    """The HOTP value (RFC 4226) of a key at a counter, zero-padded to ``digits``.

    Examples:
        >>> hotp(b"12345678901234567890", 0), hotp(b"12345678901234567890", 9)
        ('755224', '520489')
    """
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    value = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def step_of(when: dt.datetime) -> int:
    """The time step of an aware time: whole 30 s steps since the Unix epoch.

    Raises:
        ValueError: ``when`` is naive.

    Examples:
        >>> step_of(dt.datetime(1970, 1, 1, 0, 0, 59, tzinfo=dt.UTC))
        1
    """
    if when.tzinfo is None:
        raise ValueError("step_of needs an aware time (UTC)")
    return int(when.timestamp()) // STEP_S


def code_at(secret: str, when: dt.datetime, *, digits: int = DIGITS, digest: str = "sha1") -> str:
    """The code an authenticator app shows for ``secret`` at ``when``.

    Examples:
        >>> key = base64.b32encode(b"12345678901234567890").decode()
        >>> code_at(key, dt.datetime(1970, 1, 1, 0, 0, 59, tzinfo=dt.UTC), digits=8)
        '94287082'
    """
    return hotp(secret_bytes(secret), step_of(when), digits=digits, digest=digest)


def verify(
    secret: str,
    code: str,
    when: dt.datetime,
    *,
    after_step: int | None = None,
    tolerance: int = TOLERANCE_STEPS,
) -> int | None:
    """The step a code is valid for at ``when`` (± ``tolerance`` steps), or None.

    Args:
        secret: The user's base32 secret.
        code: What the person typed (spaces are ignored; anything but 6 digits fails).
        when: Time of the attempt (aware).
        after_step: The last step already accepted for this secret: that step and earlier
            ones are refused, so a code cannot be used twice.
        tolerance: Steps accepted either side of the current one.

    Returns:
        The matched step (store it as the new ``after_step``), or None.

    Examples:
        >>> key = new_secret()
        >>> now = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)
        >>> step = verify(key, code_at(key, now), now)
        >>> step == step_of(now), verify(key, code_at(key, now), now, after_step=step)
        (True, None)
    """
    typed = code.replace(" ", "")
    if len(typed) != DIGITS or not typed.isascii() or not typed.isdigit():
        return None
    key = secret_bytes(secret)
    current = step_of(when)
    matched = None
    for step in range(current - tolerance, current + tolerance + 1):
        # compare every candidate (no early exit), in constant time each
        if hmac.compare_digest(hotp(key, step), typed) and (
            after_step is None or step > after_step
        ):
            matched = step if matched is None else matched
    return matched


def otpauth_uri(secret: str, *, account: str, issuer: str = "meterops") -> str:
    """The ``otpauth://`` URI an authenticator app reads (as text or a QR code).

    Examples:
        >>> otpauth_uri("JBSWY3DPEHPK3PXP", account="sue")
        'otpauth://totp/meterops:sue?secret=JBSWY3DPEHPK3PXP&issuer=meterops&algorithm=SHA1&digits=6&period=30'
    """
    label = quote(f"{issuer}:{account}", safe=":@")
    query = urlencode(
        {
            "secret": secret,
            "issuer": issuer,
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": STEP_S,
        }
    )
    return f"otpauth://totp/{label}?{query}"
