"""The sandbox's JWT key: verdicts reused per token, never past expiry or for another audience."""
from __future__ import annotations

import time

import jwt
import pytest

from wif_sandbox import pki

AUD = "https://management.azure.com"


@pytest.fixture(scope="module")
def key() -> pki.SigningKey:
    return pki.SigningKey.generate()


def test_a_verified_token_is_accepted_again_and_its_claims_are_a_copy(key: pki.SigningKey) -> None:
    token = key.sign({"aud": AUD, "oid": "o", "exp": int(time.time()) + 600})
    first = key.verify(token, audience=AUD, issuer=None)
    first["oid"] = "changed"
    assert key.verify(token, audience=AUD, issuer=None)["oid"] == "o"


def test_a_cached_verdict_does_not_carry_over_to_another_audience_or_issuer(key: pki.SigningKey) -> None:
    token = key.sign({"aud": AUD, "iss": "https://sts", "exp": int(time.time()) + 600})
    key.verify(token, audience=AUD, issuer="https://sts")
    with pytest.raises(jwt.InvalidAudienceError):
        key.verify(token, audience="api://other", issuer="https://sts")
    with pytest.raises(jwt.InvalidIssuerError):
        key.verify(token, audience=AUD, issuer="https://other")


def test_a_cached_verdict_ends_when_the_token_expires(key: pki.SigningKey) -> None:
    # Expired 29-30 s ago: still inside the 30 s leeway, for less than a second more.
    left = 1 - time.time() % 1
    if left < 0.2:
        time.sleep(left + 0.01)
    now = time.time()
    token = key.sign({"aud": AUD, "exp": int(now) - 29})
    key.verify(token, audience=AUD, issuer=None)
    time.sleep(int(now) + 1 - time.time() + 0.05)
    with pytest.raises(jwt.ExpiredSignatureError):
        key.verify(token, audience=AUD, issuer=None)


def test_another_keys_token_is_refused_even_with_the_same_claims(key: pki.SigningKey) -> None:
    claims = {"aud": AUD, "exp": int(time.time()) + 600}
    key.verify(key.sign(claims), audience=AUD, issuer=None)
    with pytest.raises(jwt.InvalidSignatureError):
        key.verify(pki.SigningKey.generate().sign(claims), audience=AUD, issuer=None)


def test_unverified_claims_decode_once_and_hand_out_copies(key: pki.SigningKey) -> None:
    token = key.sign({"aud": AUD, "sub": "s"})
    pki.unverified_claims(token)["sub"] = "changed"
    assert pki.unverified_claims(token) == {"aud": AUD, "sub": "s"}
    with pytest.raises(jwt.DecodeError):
        pki.unverified_claims("not.a.jwt")
