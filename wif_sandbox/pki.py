"""Key material for one sandbox run: a throw-away CA and RS256 JWT signers.

Every run makes a fresh CA so nothing trusted outlives the process (ECDSA P-256
for TLS; JWT keys are RSA, as AKS and Entra sign RS256); clients are pointed at
``CA.bundle_path`` exactly as they would be at a corporate CA bundle.
Server certificates carry SANs for 127.0.0.1 and the emulated host names, client
certificates carry the Kubernetes identity (CN = user, O = groups) the way
kube-apiserver reads x509 client certificates.
"""
from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import ipaddress
import itertools
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_KEY_BITS = 2048
_VALIDITY = datetime.timedelta(days=2)
# Clocks of clients and of the sandbox may disagree slightly; back-date issuance.
_BACKDATE = datetime.timedelta(minutes=5)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=_KEY_BITS)


def _tls_key() -> ec.EllipticCurvePrivateKey:
    """TLS keys are P-256: as trusted as RSA by every client here, and a thousand times faster to make."""
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class CA:
    """A self-signed root that signs every server and client certificate of a run."""

    def __init__(self, directory: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
        self.directory = directory
        self._key = key
        self.cert = cert
        self.pem: bytes = cert.public_bytes(serialization.Encoding.PEM)
        self.bundle_path: Path = directory / "ca.pem"
        self._serial = itertools.count(1)
        self._lock = threading.Lock()

    @classmethod
    def create(cls, directory: Path) -> CA:
        directory.mkdir(parents=True, exist_ok=True)
        key = _tls_key()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wif-sandbox CA")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True,
                    crl_sign=True, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        ca = cls(directory, key, cert)
        ca.bundle_path.write_bytes(ca.pem)
        return ca

    def issue_server(self, hostnames: list[str], ips: list[str]) -> tuple[Path, Path]:
        """Serving certificate for the given DNS names and IP addresses."""
        sans: list[x509.GeneralName] = [x509.DNSName(h) for h in hostnames]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (hostnames or ips)[0])])
        return self._issue("server", subject, sans, ExtendedKeyUsageOID.SERVER_AUTH)

    def issue_client(self, user: str, groups: list[str]) -> tuple[Path, Path]:
        """Client certificate read by Kubernetes as user=CN, groups=O."""
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, user))
        return self._issue("client", x509.Name(attrs), [], ExtendedKeyUsageOID.CLIENT_AUTH)

    def _issue(
        self, kind: str, subject: x509.Name, sans: Sequence[x509.GeneralName], usage: x509.ObjectIdentifier
    ) -> tuple[Path, Path]:
        key = _tls_key()
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        with self._lock:
            n = next(self._serial)
        cert_path = self.directory / f"{kind}-{n}.pem"
        key_path = self.directory / f"{kind}-{n}-key.pem"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(_key_pem(key))
        key_path.chmod(0o600)
        return cert_path, key_path


# Every request carries a bearer token, and PyJWT reads a token character by character in
# Python (a 2 kB token costs ~0.2 ms to decode, ~0.3 ms to verify): a few of those per request
# made them most of the sandbox's CPU. A token's bytes never change, so each is read once.
_VERIFIED_MAX = 4096
_LEEWAY_S = 30


@functools.lru_cache(maxsize=_VERIFIED_MAX)
def _peeked(token: str) -> Mapping[str, Any]:
    claims = jwt.decode(token, options={"verify_signature": False})
    if not isinstance(claims, dict):
        raise jwt.DecodeError("Invalid payload string: must be a json object")
    return claims


def unverified_claims(token: str) -> dict[str, Any]:
    """``jwt.decode(token, options={"verify_signature": False})``, decoded once per token; raises the same."""
    return dict(_peeked(token))


class SigningKey:
    """An RS256 key pair that signs JWTs and publishes itself as a JWKS."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self._key = key
        self._public = key.public_key()
        # (token, audience, issuer) -> (claims, valid until): a verdict is final except for expiry.
        self._verified: dict[tuple[str, object, str | None], tuple[dict[str, Any], float]] = {}
        numbers = key.public_key().public_numbers()
        self._n = _b64url_uint(numbers.n)
        self._e = _b64url_uint(numbers.e)
        # RFC 7638 thumbprint, as kube-apiserver derives its service-account kid.
        canonical = f'{{"e":"{self._e}","kty":"RSA","n":"{self._n}"}}'
        digest = hashlib.sha256(canonical.encode("ascii")).digest()
        self.kid: str = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(_new_key())

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        merged = {"kid": self.kid, "typ": "JWT"}
        merged.update(headers or {})
        return jwt.encode(claims, self._key, algorithm="RS256", headers=merged)

    def jwk(self) -> dict[str, str]:
        return {"kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256", "n": self._n, "e": self._e}

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [self.jwk()]}

    def verify(
        self, token: str, *, audience: str | list[str] | None, issuer: str | None
    ) -> dict[str, Any]:
        """Claims of a token this key signed; raises ``jwt.PyJWTError`` otherwise.

        A token verified before for the same audience and issuer is not verified again
        until it expires: signature, audience, issuer and not-before cannot change, and at
        expiry PyJWT checks it again (and raises ``ExpiredSignatureError``).
        """
        cache_key = (token, tuple(audience) if isinstance(audience, list) else audience, issuer)
        hit = self._verified.get(cache_key)
        if hit is not None and time.time() < hit[1]:
            return dict(hit[0])
        options = {"verify_aud": audience is not None, "verify_iss": issuer is not None}
        claims: dict[str, Any] = jwt.decode(
            token,
            self._public,
            algorithms=["RS256"],
            audience=audience,
            issuer=issuer,
            options=options,  # type: ignore[arg-type]
            leeway=_LEEWAY_S,
        )
        exp = claims.get("exp")
        # PyJWT's own rule: valid while int(exp) > now - leeway.
        until = int(exp) + _LEEWAY_S if isinstance(exp, (int, float)) else float("inf")
        if len(self._verified) >= _VERIFIED_MAX:
            self._verified.clear()
        self._verified[cache_key] = (dict(claims), until)
        return claims
