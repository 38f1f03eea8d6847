"""TOTP (RFC 6238): the Appendix B test vectors, tolerance, replay, and properties."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterops.auth.totp import (
    DIGITS,
    STEP_S,
    code_at,
    hotp,
    new_secret,
    otpauth_uri,
    secret_bytes,
    step_of,
    verify,
)

SEEDS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890123456789012345678901234567890123456789012345678901234",
}

# RFC 6238 Appendix B: (Unix time, algorithm, 8-digit TOTP)
APPENDIX_B = [
    (59, "sha1", "94287082"),
    (59, "sha256", "46119246"),
    (59, "sha512", "90693936"),
    (1111111109, "sha1", "07081804"),
    (1111111109, "sha256", "68084774"),
    (1111111109, "sha512", "25091201"),
    (1111111111, "sha1", "14050471"),
    (1111111111, "sha256", "67062674"),
    (1111111111, "sha512", "99943326"),
    (1234567890, "sha1", "89005924"),
    (1234567890, "sha256", "91819424"),
    (1234567890, "sha512", "93441116"),
    (2000000000, "sha1", "69279037"),
    (2000000000, "sha256", "90698825"),
    (2000000000, "sha512", "38618901"),
    (20000000000, "sha1", "65353130"),
    (20000000000, "sha256", "77737706"),
    (20000000000, "sha512", "47863826"),
]

# RFC 4226 Appendix D: HOTP of the SHA-1 seed at counters 0..9
APPENDIX_D = [
    "755224",
    "287082",
    "359152",
    "969429",
    "338314",
    "254676",
    "287922",
    "162583",
    "399871",
    "520489",
]

T0 = dt.datetime(2026, 11, 24, 8, 0, 10, tzinfo=dt.UTC)
secrets_st = st.binary(min_size=10, max_size=40).map(
    lambda b: base64.b32encode(b).decode().rstrip("=")
)
times_st = st.datetimes(
    min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=st.just(dt.UTC)
)


@pytest.mark.parametrize(("unix", "algorithm", "expected"), APPENDIX_B)
def test_rfc6238_appendix_b_vectors(unix: int, algorithm: str, expected: str) -> None:
    secret = base64.b32encode(SEEDS[algorithm]).decode()
    when = dt.datetime.fromtimestamp(unix, tz=dt.UTC)
    assert code_at(secret, when, digits=8, digest=algorithm) == expected


def test_rfc4226_hotp_vectors() -> None:
    assert [hotp(SEEDS["sha1"], counter) for counter in range(10)] == APPENDIX_D


def test_a_code_is_accepted_one_step_either_side_and_not_two() -> None:
    secret = new_secret()
    step = dt.timedelta(seconds=STEP_S)
    for offset, accepted in ((-2, False), (-1, True), (0, True), (1, True), (2, False)):
        code = code_at(secret, T0 + offset * step)
        if code == code_at(secret, T0) and not accepted:
            continue  # a 1-in-a-million collision with the current code
        assert (verify(secret, code, T0) is not None) is accepted, offset


def test_a_code_cannot_be_used_twice_nor_an_earlier_one_after_a_later() -> None:
    secret = new_secret()
    now_step = verify(secret, code_at(secret, T0), T0)
    assert now_step == step_of(T0)
    assert verify(secret, code_at(secret, T0), T0, after_step=now_step) is None
    earlier = code_at(secret, T0 - dt.timedelta(seconds=STEP_S))
    assert verify(secret, earlier, T0, after_step=now_step) is None
    later = T0 + dt.timedelta(seconds=STEP_S)
    assert verify(secret, code_at(secret, later), later, after_step=now_step) == now_step + 1


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "12a456", "١٢٣٤٥٦", "-12345"])
def test_malformed_codes_never_verify(typed: str) -> None:
    assert verify(new_secret(), typed, T0) is None


def test_secrets_are_random_base32_and_bad_base32_is_refused() -> None:
    assert new_secret() != new_secret()
    assert len(secret_bytes(new_secret())) == 20
    with pytest.raises(ValueError, match="not base32"):
        secret_bytes("not base32!")


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        step_of(dt.datetime(2026, 1, 1))


def test_the_otpauth_uri_names_the_account_and_parameters() -> None:
    uri = otpauth_uri("JBSWY3DPEHPK3PXP", account="sue smith")
    assert uri.startswith("otpauth://totp/meterops:sue%20smith?")
    assert "secret=JBSWY3DPEHPK3PXP" in uri
    assert "period=30" in uri
    assert "digits=6" in uri


@given(secret=secrets_st, when=times_st)
def test_the_current_code_always_verifies_at_its_step(secret: str, when: dt.datetime) -> None:
    code = code_at(secret, when)
    assert len(code) == DIGITS
    assert code.isdigit()
    assert verify(secret, code, when) is not None
    assert verify(secret, code, when, after_step=step_of(when)) in {None, step_of(when) + 1}


@given(secret=secrets_st, when=times_st, drift=st.integers(min_value=-1, max_value=1))
def test_drift_of_one_step_is_tolerated_and_the_match_is_within_it(
    secret: str, when: dt.datetime, drift: int
) -> None:
    shown = when + dt.timedelta(seconds=drift * STEP_S)
    matched = verify(secret, code_at(secret, shown), when)
    assert matched is not None
    assert abs(matched - step_of(when)) <= 1


@given(secret=secrets_st, when=times_st, last=st.integers(min_value=0, max_value=10**10))
def test_a_match_is_always_after_the_last_accepted_step(
    secret: str, when: dt.datetime, last: int
) -> None:
    matched = verify(secret, code_at(secret, when), when, after_step=last)
    assert matched is None or matched > last


@given(secret=secrets_st)
def test_spaces_and_case_in_a_secret_do_not_matter(secret: str) -> None:
    spaced = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)).lower()
    assert secret_bytes(spaced) == secret_bytes(secret)
