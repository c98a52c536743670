"""SDK errors -> project errors: the type says whether a retry helps, the message names the fix."""
from __future__ import annotations

import email.utils
import json
from typing import Any, Optional

import pytest
import urllib3
from azure.core import exceptions as az
from azure.identity import CredentialUnavailableError
from azure.mgmt.core.exceptions import ARMErrorFormat
from kubernetes.client.exceptions import ApiException

from wif_core import errors
from wif_core.adapters import errors_map


class Response:
    """The least an azure-core HttpResponseError reads from a response."""

    def __init__(self, status: int, body: Any, headers: Optional[dict[str, str]] = None) -> None:
        self.status_code, self.reason, self.headers = status, "reason", headers or {}
        self.content_type, self.request = "application/json", None
        self._text = json.dumps(body)

    def text(self, encoding: Optional[str] = None) -> str:
        return self._text

    def body(self) -> bytes:
        return self._text.encode()


def arm_error(status: int, code: str = "Code", message: str = "message", **headers: str) -> az.HttpResponseError:
    cls = {404: az.ResourceNotFoundError, 409: az.ResourceExistsError}.get(status, az.HttpResponseError)
    return cls(response=Response(status, {"error": {"code": code, "message": message}}, headers),
               error_format=ARMErrorFormat)


def entra_error(description: str, status: int = 400) -> az.ClientAuthenticationError:
    message = f"Microsoft Entra ID error '(invalid_request) {description} Trace ID: 1 Correlation ID: 2'"
    return az.ClientAuthenticationError(message=message, response=Response(status, {"error": "invalid_request"}))


@pytest.mark.parametrize(("status", "kind"), [
    (404, errors.NotFound), (403, errors.Forbidden), (401, errors.PermanentError), (409, errors.Conflict),
    (429, errors.Throttled), (500, errors.TemporaryError), (503, errors.TemporaryError), (400, errors.PermanentError),
])
def test_arm_status_decides_the_type(status: int, kind: type[errors.WifError]) -> None:
    mapped = errors_map.from_azure(arm_error(status), "read AKS cluster c1", forbidden_fix="grant Reader")
    assert type(mapped) is kind
    assert mapped.message.startswith("read AKS cluster c1: ")
    assert mapped.retryable == (status in (409, 429, 500, 503))


def test_forbidden_names_the_grant_and_the_arm_code() -> None:
    mapped = errors_map.from_azure(arm_error(403, "AuthorizationFailed", "client x has no access"), "write credential a",
                                   forbidden_fix="grant 'Managed Identity Contributor' on the Argo CD identity")
    assert "AuthorizationFailed: client x has no access" in mapped.message
    assert mapped.message.endswith("grant 'Managed Identity Contributor' on the Argo CD identity")


def test_throttled_carries_retry_after() -> None:
    mapped = errors_map.from_azure(arm_error(429, **{"Retry-After": "7"}), "write credential a")
    assert isinstance(mapped, errors.Throttled) and mapped.delay == 7.0


def test_retry_after_forms() -> None:
    assert errors_map.retry_after({"Retry-After": "3"}) == 3.0
    assert errors_map.retry_after({"retry-after-ms": "1500", "Retry-After": "9"}) == 1.5
    later = email.utils.formatdate(1_000_060.0, usegmt=True)
    assert errors_map.retry_after({"Retry-After": later}, now=1_000_000.0) == pytest.approx(60.0)
    assert errors_map.retry_after({"Retry-After": "soon"}) is None
    assert errors_map.retry_after(None) is None


def test_connection_failures_are_unreachable_and_tls_failures_permanent() -> None:
    assert isinstance(errors_map.from_azure(az.ServiceRequestError("Connection refused"), "x"), errors.Unreachable)
    assert isinstance(errors_map.from_azure(az.ServiceResponseError("Read timed out"), "x"), errors.Unreachable)
    tls = errors_map.from_azure(az.ServiceRequestError("[SSL: CERTIFICATE_VERIFY_FAILED] self-signed"), "x")
    assert type(tls) is errors.PermanentError and "REQUESTS_CA_BUNDLE" in tls.message


def test_federation_mismatches_are_waited_for_and_say_which_part_matched_none() -> None:
    # While a credential propagates Entra answers 70021, and on an identity with several credentials
    # 700211 (issuer) or 700213 (subject): all "not yet", the step diagnoses at its deadline.
    cases = {70021: "not reached Entra", 700211: "issuer", 700213: "subject"}
    for code, words in cases.items():
        mapped = errors_map.from_azure(entra_error(f"AADSTS{code}: No matching federated identity record found."), "x")
        assert type(mapped) is errors.NotFederated and mapped.code == code, code
        assert words in mapped.message and f"AADSTS{code}" in mapped.message
    other = errors_map.from_azure(entra_error("AADSTS700212: No matching federated identity record for audience."), "x")
    assert type(other) is errors.PermanentError and "api://AzureADTokenExchange" in other.message


def test_entra_messages_drop_trace_ids_and_transient_codes_retry() -> None:
    mapped = errors_map.from_azure(entra_error("AADSTS7000215: Invalid client secret provided."), "token for ARM")
    assert "AZURE_CLIENT_SECRET" in mapped.message and "Trace ID" not in mapped.message
    assert isinstance(errors_map.from_azure(entra_error("AADSTS90033: A transient error has occurred.", 503), "x"),
                      errors.TemporaryError)
    assert isinstance(errors_map.from_azure(entra_error("AADSTS50196: loop", 400), "x"), errors.TemporaryError)


def test_no_credential_at_all_says_how_to_provide_one() -> None:
    mapped = errors_map.from_azure(CredentialUnavailableError("EnvironmentCredential: not configured"), "read cluster")
    assert type(mapped) is errors.PermanentError and "az login" in mapped.message and "AZURE_CLIENT_ID" in mapped.message
    down = az.ClientAuthenticationError(message="DefaultAzureCredential failed: EnvironmentCredential: "
                                                "Failed to establish a new connection: [Errno 111] Connection refused")
    assert isinstance(errors_map.from_azure(down, "read cluster"), errors.Unreachable)


def kube_error(status: int, message: str = "boom", headers: Optional[dict[str, str]] = None,
               body: Any = None) -> ApiException:
    e = ApiException(status=status, reason="Reason")
    e.body = json.dumps(body if body is not None else {"kind": "Status", "message": message, "code": status}).encode()
    e.headers = headers or {}
    return e


@pytest.mark.parametrize(("status", "kind"), [
    (404, errors.NotFound), (403, errors.Forbidden), (401, errors.PermanentError), (409, errors.Conflict),
    (429, errors.Throttled), (500, errors.TemporaryError), (422, errors.PermanentError),
])
def test_kube_status_decides_the_type(status: int, kind: type[errors.WifError]) -> None:
    assert type(errors_map.from_kube(kube_error(status), "get Secret argocd/a", "https://hub:443")) is kind


def test_kube_forbidden_quotes_the_status_message_and_the_fix() -> None:
    denied = 'secrets is forbidden: User "app" cannot create resource "secrets" in the namespace "argocd"'
    mapped = errors_map.from_kube(kube_error(403, denied), "create Secret argocd/a", "https://hub:443",
                                  forbidden_fix="give this app's identity RBAC to create secrets in namespace argocd")
    assert denied in mapped.message and mapped.message.endswith("create secrets in namespace argocd")


def test_kube_bodies_that_are_not_status_are_never_quoted() -> None:
    mapped = errors_map.from_kube(kube_error(500, body={"status": {"token": "eyJ.secret"}}), "TokenRequest", "https://h")
    assert "eyJ" not in mapped.message


def test_kube_transport_failures() -> None:
    assert isinstance(errors_map.from_kube(urllib3.exceptions.ProtocolError("Connection aborted."), "get", "https://h"),
                      errors.Unreachable)
    tls = errors_map.from_kube(ApiException(status=0, reason="SSLError\n[SSL: CERTIFICATE_VERIFY_FAILED]"), "get",
                               "https://h")
    assert type(tls) is errors.PermanentError and "listClusterUserCredential" in tls.message
    assert isinstance(errors_map.from_kube(kube_error(429, headers={"Retry-After": "2"}), "get", "https://h"),
                      errors.Throttled)


def test_an_msal_5xx_waits_out_msal_s_own_replay_window() -> None:
    folded = az.ClientAuthenticationError(message="DefaultAzureCredential failed to retrieve a token. Attempted "
                                                  "credentials: EnvironmentCredential: Authentication failed: HTTP Error: 503")
    mapped = errors_map.from_azure(folded, "read AKS cluster c1")
    assert isinstance(mapped, errors.TemporaryError) and mapped.delay == errors_map.MSAL_THROTTLE_S
