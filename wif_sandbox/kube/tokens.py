"""Service-account tokens: TokenRequest minting and verification of our own tokens.

Tokens look like the ones kube-apiserver issues from ``serviceaccounts/token``
(claims ``iss``, ``sub``, ``aud`` list, ``exp``/``iat``/``nbf``, ``jti`` and the
``kubernetes.io`` block, header ``kid``), because Entra validates exactly these
when Argo CD exchanges them for an access token. The same tokens presented back
to this API server authenticate as the service account only while it still
exists with the same uid, as bound tokens do.
"""
from __future__ import annotations

import uuid
from typing import Any, Callable, Optional

import jwt

from wif_sandbox import pki
from wif_sandbox.kube import errors
from wif_sandbox.kube.auth import TokenSigner
from wif_sandbox.kube.store import Obj, rfc3339

DEFAULT_EXPIRATION_S = 3600
MIN_EXPIRATION_S = 600
MAX_EXPIRATION_S = 2**32
LEEWAY_S = 30  # clock skew tolerated on exp/nbf, as PyJWT's leeway elsewhere in the sandbox
# Besides the issuer (what AKS uses as --api-audiences), in-cluster clients use these.
IN_CLUSTER_AUDIENCES = ("https://kubernetes.default.svc.cluster.local", "https://kubernetes.default.svc")


def _spec(body: Any, issuer: str, sa_name: str) -> tuple[list[str], int, Any]:
    spec = (body or {}).get("spec") or {} if isinstance(body, dict) else {}
    audiences = spec.get("audiences") or [issuer]
    expiration = spec.get("expirationSeconds") or DEFAULT_EXPIRATION_S
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise errors.bad_request("spec.audiences must be a list of strings")
    if not isinstance(expiration, int) or expiration < MIN_EXPIRATION_S:
        raise errors.invalid(
            "authentication.k8s.io", "TokenRequest", sa_name,
            [("spec.expirationSeconds", f"Invalid value: {expiration}: may not specify a duration less than 10 minutes")],
        )
    if expiration > MAX_EXPIRATION_S:
        raise errors.invalid(
            "authentication.k8s.io", "TokenRequest", sa_name,
            [("spec.expirationSeconds", f"Invalid value: {expiration}: may not specify a duration larger than 2^32 seconds")],
        )
    return audiences, expiration, spec.get("boundObjectRef")


def mint(
    sa: Obj, body: Any, *, issuer: str, key: TokenSigner, clock: Callable[[], float]
) -> dict[str, Any]:
    """The TokenRequest answer for service account ``sa``."""
    meta = sa["metadata"]
    audiences, expiration, bound = _spec(body, issuer, meta["name"])
    now = int(clock())
    claims = {
        "aud": audiences, "exp": now + expiration, "iat": now, "nbf": now, "iss": issuer,
        "jti": str(uuid.uuid4()),
        "kubernetes.io": {
            "namespace": meta["namespace"],
            "serviceaccount": {"name": meta["name"], "uid": meta["uid"]},
        },
        "sub": f"system:serviceaccount:{meta['namespace']}:{meta['name']}",
    }
    token = key.sign(claims, {"kid": key.kid})
    return {
        "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "creationTimestamp": None},
        "spec": {"audiences": audiences, "expirationSeconds": expiration, "boundObjectRef": bound},
        "status": {"token": token, "expirationTimestamp": rfc3339(now + expiration)},
    }


def issued_here(token: str, issuer: str) -> bool:
    """Cheap, unverified look at ``iss``: decides which authenticator owns the token."""
    try:
        claims = pki.unverified_claims(token)
    except jwt.PyJWTError:
        return False
    return isinstance(claims, dict) and claims.get("iss") == issuer


def verify(
    token: str, *, issuer: str, key: TokenSigner, clock: Callable[[], float]
) -> Optional[tuple[str, str, str]]:
    """(namespace, name, uid) of a valid token for this API server, else None.

    Signature, issuer and audience are checked by PyJWT; expiry and not-before
    against the server's own clock, so a sandbox on a virtual clock accepts the
    tokens it minted on that clock.
    """
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        jwk = next((k for k in key.jwks()["keys"] if k.get("kid") == kid), None)
        if jwk is None:
            return None
        claims = jwt.decode(
            token, jwt.PyJWK(jwk), algorithms=["RS256"],
            audience=[issuer, *IN_CLUSTER_AUDIENCES], issuer=issuer,
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        return None
    now = clock()
    if not isinstance(claims.get("exp"), int) or now > claims["exp"] + LEEWAY_S:
        return None
    if isinstance(claims.get("nbf"), int) and now < claims["nbf"] - LEEWAY_S:
        return None
    info = claims.get("kubernetes.io") or {}
    sa = info.get("serviceaccount") or {}
    if not (info.get("namespace") and sa.get("name") and sa.get("uid")):
        return None
    return str(info["namespace"]), str(sa["name"]), str(sa["uid"])
