"""SDK errors become the project's few error types here, in one place.

The HTTP status decides the type, and so whether a retry can help (``errors``);
the message names the resource and, for permissions, the grant that is missing.
Texts taken from responses are cut short: ARM, Entra and Kubernetes error
bodies carry no token (azure-identity scrubs token fields before raising), and
neither request headers nor request bodies are ever quoted.
"""
from __future__ import annotations

import email.utils
import json
import re
import time
from typing import TYPE_CHECKING, Mapping, Optional

import urllib3
from azure.core import exceptions as az

from wif_core import errors

if TYPE_CHECKING:  # kubernetes loads with the first Kubernetes client, not with the Azure adapters
    from kubernetes.client import exceptions as kube_exc

MAX_DETAIL = 300
_AADSTS = re.compile(r"AADSTS(\d+)")
_MSAL_HTTP_5XX = re.compile(r"HTTP Error: (5\d\d|429)")
MSAL_THROTTLE_S = 5.5  # msal.throttled_http_client holds a 5xx without Retry-After for 5 s
NOT_PROPAGATED = 70021  # "No matching federated identity record found for presented assertion"
NOT_PROPAGATED_TEXT = "AADSTS70021:"
# With several credentials on the identity Entra says which part matched none (issuer, subject); a
# credential still propagating gives these too, so they are waited for like 70021.
NOT_FEDERATED = {
    NOT_PROPAGATED: "the federated credential has not reached Entra yet",
    700211: "no federated credential of the identity trusts the assertion's issuer (yet)",
    700213: "no federated credential of the identity trusts the assertion's subject (yet)",
}
_ENTRA_FIXES = {
    700016: "the client id is not an application in that tenant: check the identity's client id and AZURE_TENANT_ID",
    7000215: "the client secret is wrong or expired: renew AZURE_CLIENT_SECRET",
    7000222: "the client secret is expired: renew AZURE_CLIENT_SECRET",
    90002: "the tenant does not exist: check AZURE_TENANT_ID (or the identity's tenant)",
    700212: "the token audience is not trusted: the federated credential must list api://AzureADTokenExchange",
    700024: "the assertion is outside its validity window: check the clocks of the cluster and this host",
    50027: "the assertion is not a valid JWT for Entra: check the cluster's OIDC issuer and its JWKS",
    700027: "the assertion's signature does not match the issuer's published keys: check the hub's OIDC issuer",
}
# "A transient error has occurred", "loop detected", "request to the external OIDC endpoint failed".
_TRANSIENT_ENTRA = {90033, 50196, 50166}
# DefaultAzureCredential folds every failure of its chain into one ClientAuthenticationError
# without a response; these words in it mean the authority was not reached at all.
_NETWORK_HINTS = ("Failed to establish a new connection", "Connection aborted", "Connection reset", "timed out",
                  "RemoteDisconnected", "Max retries exceeded", "ServiceRequestError", "ServiceResponseError")


def short(text: object, limit: int = MAX_DETAIL) -> str:
    one = " ".join(str(text).split())
    return one if len(one) <= limit else one[: limit - 3] + "..."


def retry_after(headers: Optional[Mapping[str, str]], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait per ``retry-after-ms`` / ``Retry-After`` (seconds or an HTTP date)."""
    if not headers:
        return None
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        if name in lowered:
            try:
                return max(0.0, float(lowered[name]) / 1000.0)
            except ValueError:
                pass
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def by_status(status: int, what: str, detail: str, *, delay: Optional[float] = None,
              forbidden_fix: str = "", unauthorized_fix: str = "") -> errors.WifError:
    """The error type for an HTTP status: the one table both ARM and Kubernetes go through."""
    if status == 404:
        return errors.NotFound(f"{what}: not found ({detail})")
    if status == 403:
        return errors.Forbidden(f"{what}: forbidden ({detail}); {forbidden_fix or 'grant the missing permission'}")
    if status == 401:
        return errors.PermanentError(f"{what}: the credential was rejected ({detail}); "
                                     f"{unauthorized_fix or 'check AZURE_TENANT_ID and this app identity'}")
    if status == 409:
        return errors.Conflict(f"{what}: conflict ({detail})", delay)
    if status == 429:
        return errors.Throttled(f"{what}: throttled ({detail})", delay)
    if status >= 500 or status == 408:
        return errors.TemporaryError(f"{what}: HTTP {status} ({detail})", delay)
    return errors.PermanentError(f"{what}: HTTP {status} ({detail})")


# ---- Azure (azure-core, azure-identity) ---------------------------------------------


def _headers(e: az.HttpResponseError) -> Optional[Mapping[str, str]]:
    headers = getattr(e.response, "headers", None)
    return headers if isinstance(headers, Mapping) else None


def _arm_detail(e: az.HttpResponseError) -> str:
    odata = e.error
    if odata is not None and (odata.code or odata.message):
        return short(f"{odata.code}: {odata.message}")
    return short(e.reason or e.message)


def from_entra(e: az.ClientAuthenticationError, what: str) -> errors.WifError:
    """An Entra token request failed: AADSTS70021 means "not propagated yet"."""
    text = e.message or str(e)
    codes = [int(c) for c in _AADSTS.findall(text)]
    status = e.status_code or 0
    first = short(text.split(" Trace ID:")[0])
    for code in codes:
        if code in NOT_FEDERATED:
            return errors.NotFederated(f"{what}: {NOT_FEDERATED[code]} (AADSTS{code})", code)
    if status == 429:
        return errors.Throttled(f"{what}: Entra throttled the request ({first})", retry_after(_headers(e)))
    if status >= 500 or "temporarily_unavailable" in text or _TRANSIENT_ENTRA.intersection(codes):
        return errors.TemporaryError(f"{what}: Entra is temporarily unavailable ({first})")
    if e.response is None and any(hint in text for hint in _NETWORK_HINTS):
        return errors.Unreachable(f"{what}: cannot reach the Entra authority ({first})")
    if e.response is None and _MSAL_HTTP_5XX.search(text):  # MSAL's words for a 5xx it got
        # MSAL replays that answer from its throttle cache for a few seconds: retrying sooner is useless.
        return errors.TemporaryError(f"{what}: Entra answered with a server error ({first})", MSAL_THROTTLE_S)
    for code in codes:
        if code in _ENTRA_FIXES:
            return errors.PermanentError(f"{what}: AADSTS{code}: {_ENTRA_FIXES[code]} ({first})")
    if not codes and e.response is None:  # CredentialUnavailableError: no credential could even try
        return errors.PermanentError(
            f"{what}: no Azure credential is available ({first}); set AZURE_TENANT_ID, AZURE_CLIENT_ID and "
            "AZURE_CLIENT_SECRET, run in Azure with a managed identity, or run 'az login'")
    return errors.PermanentError(f"{what}: Entra refused the token request ({first})")


def from_azure(e: az.AzureError, what: str, *, forbidden_fix: str = "") -> errors.WifError:
    """Any azure-core error raised by an SDK client (ARM) or by its credential (Entra)."""
    if isinstance(e, (az.ServiceRequestError, az.ServiceResponseError)):
        # Connection refused, reset, TLS failure, or no answer in time.
        if "CERTIFICATE_VERIFY_FAILED" in str(e):
            return errors.PermanentError(f"{what}: TLS verification failed ({short(e.message)}); "
                                         "set REQUESTS_CA_BUNDLE to a bundle trusting this endpoint")
        return errors.Unreachable(f"{what}: {type(e).__name__} ({short(e.message)})")
    if isinstance(e, az.ClientAuthenticationError) and (e.response is None or _AADSTS.search(e.message or "")):
        return from_entra(e, what)  # raised by the credential, not by the resource's API
    if isinstance(e, az.HttpResponseError) and e.status_code:
        return by_status(e.status_code, what, _arm_detail(e), delay=retry_after(_headers(e)), forbidden_fix=forbidden_fix)
    return errors.PermanentError(f"{what}: {type(e).__name__} ({short(e.message)})")


# ---- Kubernetes (kubernetes client, urllib3) ----------------------------------------


def _kube_detail(e: kube_exc.ApiException) -> str:
    body = e.body.decode("utf-8", "replace") if isinstance(e.body, bytes) else str(e.body or "")
    try:
        status = json.loads(body)
    except ValueError:
        return short(e.reason or body)
    if isinstance(status, dict) and status.get("kind") == "Status":
        return short(status.get("message") or status.get("reason") or e.reason)
    return short(e.reason)  # not a Status: could be anything, quote nothing of it


def from_kube(e: Exception, what: str, server: str, *, forbidden_fix: str = "") -> errors.WifError:
    from kubernetes.client import exceptions as kube_exc

    if isinstance(e, kube_exc.ApiException):
        if not e.status:  # the client's own wrapper of TLS errors
            reason = short(e.reason)
            if "SSLError" in reason or "CERTIFICATE" in reason:
                return errors.PermanentError(f"{what}: TLS verification of {server} failed ({reason}); the CA "
                                             "from listClusterUserCredential does not match: discover the cluster again")
            return errors.Unreachable(f"{what}: {server}: {reason}")
        headers = dict(e.headers or {})
        return by_status(int(e.status), what, _kube_detail(e), delay=retry_after(headers), forbidden_fix=forbidden_fix,
                         unauthorized_fix="the API server rejected this app's Entra token: check the cluster uses "
                                          "Entra ID integration and WIF_AKS_SERVER_APP_ID")
    if isinstance(e, urllib3.exceptions.HTTPError):
        return errors.Unreachable(f"{what}: cannot reach {server} ({type(e).__name__}: {short(e)})")
    if isinstance(e, az.AzureError):
        return from_azure(e, f"{what}: token for {server}")
    return errors.PermanentError(f"{what}: {type(e).__name__} ({short(e)})")
