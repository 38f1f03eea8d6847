"""Passwords, tokens and the throttling rule."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from meterops.auth.passwords import (
    MAX_LENGTH,
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
)
from meterops.auth.throttle import ThrottlePolicy, decide
from meterops.auth.tokens import new_token, token_digest, tokens_match

T0 = dt.datetime(2026, 7, 6, 12, 0, tzinfo=dt.UTC)


def test_a_hash_verifies_only_its_password_and_is_salted() -> None:
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert first != second
    assert first.startswith("$argon2id$")
    assert verify_password(first, "correct horse battery")
    assert not verify_password(first, "correct horse batterY")
    assert not needs_rehash(first)


def test_malformed_hashes_and_oversized_passwords_do_not_verify() -> None:
    assert not verify_password("not-a-hash", "whatever")
    assert not verify_password(hash_password("x" * 20), "x" * (MAX_LENGTH + 1))


def test_password_rules_name_every_problem() -> None:
    assert password_problems("aaaa", username="bob") == [
        "at least 12 characters are needed",
        "it needs at least 4 different characters",
    ]
    assert "it is a commonly used password" in password_problems("Password1234", username="x")
    assert "it must not contain the user name" in password_problems(
        "xx-BOB-meters-1", username="bob"
    )
    assert password_problems("y" * 300, username="x")[0] == "at most 256 characters are allowed"


def test_tokens_are_random_and_compared_strictly() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    token = tokens.pop()
    assert token_digest(token) != token
    assert tokens_match(token, token)
    assert not tokens_match(token, token[:-1])
    assert not tokens_match("", "")


@given(
    ages_s=st.lists(st.integers(min_value=0, max_value=3 * 3600), max_size=12),
    policy=st.builds(
        ThrottlePolicy,
        max_failures=st.integers(1, 8),
        window_s=st.integers(60, 3600),
        lockout_s=st.integers(60, 3600),
    ),
)
def test_throttle_refuses_exactly_when_the_window_holds_enough_failures(
    ages_s: list[int], policy: ThrottlePolicy
) -> None:
    failures = [T0 - dt.timedelta(seconds=a) for a in ages_s]
    decision = decide(failures, T0, policy)
    in_window = sorted(a for a in ages_s if a < policy.window_s)
    if len(in_window) < policy.max_failures:
        assert decision.allowed
        assert decision.retry_after_s == 0
    else:
        remaining = policy.lockout_s - in_window[0]
        assert decision.allowed == (remaining <= 0)
        assert decision.retry_after_s == max(remaining, 0)


def test_failures_in_the_future_or_before_the_window_do_not_count() -> None:
    policy = ThrottlePolicy(max_failures=2, window_s=600, lockout_s=600)
    future = [T0 + dt.timedelta(seconds=5)] * 5
    old = [T0 - dt.timedelta(seconds=601)] * 5
    assert decide(future + old, T0, policy).allowed
