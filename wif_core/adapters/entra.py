"""The token exchange Argo CD will do: a service-account token for an Entra token for AKS.

``ClientAssertionCredential`` is what ``WorkloadIdentityCredential`` wraps (it
reads the assertion from a file; we hold it in memory). A new credential per
exchange, so no cache can answer in Entra's place: each call is a real proof.
The Entra token is never kept, logged or returned: success is all we need.
``ClientAssertionCredential`` talks to ``{authority}/{tenant}/oauth2/v2.0/token``
directly (no MSAL, hence no instance discovery) and trusts ``REQUESTS_CA_BUNDLE``.
"""
from __future__ import annotations

import logging
from typing import Any

from azure.core.exceptions import AzureError
from azure.identity import ClientAssertionCredential

from wif_core import errors
from wif_core.adapters import errors_map, retrying


def _not_propagated(record: logging.LogRecord) -> bool:
    """Keep azure-identity's "get_token failed" warnings, except AADSTS70021/700211/700213: we wait for those."""
    message = record.getMessage()
    return not any(f"AADSTS{code}:" in message for code in errors_map.NOT_FEDERATED)


class TokenExchange:
    def __init__(self, authority_host: str, policy: retrying.Policy, **credential_kwargs: Any) -> None:
        """``credential_kwargs`` go to each credential (tests pass ``transport=``)."""
        self.authority_host, self.policy, self.credential_kwargs = authority_host, policy, credential_kwargs
        mixin = logging.getLogger("azure.identity._internal.get_token_mixin")
        if _not_propagated not in mixin.filters:
            mixin.addFilter(_not_propagated)

    def exchange(self, *, tenant_id: str, client_id: str, assertion: str, scope: str) -> None:
        what = f"token exchange for client {client_id} (scope {scope})"

        def once() -> None:
            # retry_total=0: retrying is the one retry layer; AADSTS70021 must reach the runner at once.
            credential = ClientAssertionCredential(tenant_id, client_id, func=lambda: assertion,
                                                   authority=self.authority_host, retry_total=0,
                                                   **self.credential_kwargs)
            try:
                with credential:
                    credential.get_token(scope)  # the token itself is dropped here, unseen
            except AzureError as e:
                raise errors_map.from_azure(e, what) from e
            except ValueError as e:  # azure-identity's own argument checks (tenant id, authority)
                raise errors.PermanentError(f"{what}: {e}") from e

        retrying.call(self.policy, what, once)
