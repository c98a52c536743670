"""Wire the real adapters into ``ports.Ports``: the one place that knows them all.

Call ``build`` once per process and keep the result (the CLI does once per
command, ``wif_functions.activities`` once per settings): SDK clients, Kubernetes
clients and the hub/identity caches live inside it and are reused.

Credentials: ``DefaultAzureCredential`` at ``AZURE_AUTHORITY_HOST``, so a service
principal from ``AZURE_TENANT_ID``/``AZURE_CLIENT_ID``/``AZURE_CLIENT_SECRET`` (the
sandbox, CI), a managed identity (Azure) or ``az login`` (the CLI on a laptop) all
work. TLS: every Azure SDK client and azure-identity use ``requests``, which
trusts ``REQUESTS_CA_BUNDLE`` when it is set (the ARM clients read it, and the
proxy variables, once: ``azure.environment_settings``); Kubernetes API servers are
trusted through the CA in each cluster's own kubeconfig, nothing else.
"""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Callable, Optional
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken, TokenCredential
from azure.identity import AzureAuthorityHosts, DefaultAzureCredential

from wif_core import config, model, ports
from wif_core.adapters import azure, caching, entra, retrying

if TYPE_CHECKING:
    from wif_core.adapters import kube

FACTS_TTL_S = 120.0
_KNOWN_AUTHORITIES = frozenset(
    host.lower() for host in (AzureAuthorityHosts.AZURE_PUBLIC_CLOUD, AzureAuthorityHosts.AZURE_CHINA,
                              AzureAuthorityHosts.AZURE_GOVERNMENT))


def default_credential(settings: config.Settings) -> TokenCredential:
    """``DefaultAzureCredential`` for ``settings.authority_host``.

    MSAL (behind the client-secret and CLI paths) validates an authority it does
    not know by asking login.microsoftonline.com; a sovereign, private or local
    (sandbox) authority has to skip that, Microsoft's own hosts keep it.
    """
    host = (urlsplit(settings.authority_host).hostname or "").lower()
    # retry_total=0: token requests are retried with the ARM or Kubernetes call that needs them.
    return DefaultAzureCredential(authority=settings.authority_host, retry_total=0,
                                  disable_instance_discovery=host not in _KNOWN_AUTHORITIES)


class TokenCache:
    """This app's token for the AKS API servers, asked for again only when it nears expiry.

    Every Kubernetes request needs it; azure-identity would answer from MSAL's cache, but
    that lookup costs more CPU than the request itself. Held in memory only, never logged.
    """

    def __init__(self, credential: TokenCredential, scope: str, *, margin_s: float = 300.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.credential, self.scope, self.margin_s, self.clock = credential, scope, margin_s, clock
        self._token: Optional[AccessToken] = None
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or self._token.expires_on - self.margin_s <= self.clock():
                self._token = self.credential.get_token(self.scope)
            return self._token.token


class KubeClients:
    """``Ports.kube``: one client per API server (server URL and CA), kept for the process."""

    def __init__(self, token: Callable[[], str], policy: retrying.Policy) -> None:
        self.token, self.policy = token, policy
        self._clients: dict[tuple[str, str], kube.Kube] = {}
        self._lock = threading.Lock()

    def __call__(self, facts: model.ClusterFacts) -> ports.Kube:
        key = (facts.server, facts.ca_data)
        with self._lock:
            if key not in self._clients:
                # kubernetes (a quarter second to import) loads with the first cluster client: the
                # first activity of a cold worker (the hub's federation) needs ARM first.
                from wif_core.adapters import kube

                self._clients[key] = kube.Kube(facts, self.token, self.policy)
            return self._clients[key]


def build(settings: config.Settings, *, credential: Optional[TokenCredential] = None,
          policy: retrying.Policy = retrying.DEFAULT, facts_ttl_s: float = FACTS_TTL_S,
          clock: Callable[[], float] = time.monotonic, run_command_poll_s: float = 5.0,
          run_command_timeout_s: float = 300.0) -> ports.Ports:
    """Real adapters for ``settings``; ``credential`` defaults to ``default_credential(settings)``."""
    cred = credential or default_credential(settings)
    arm = azure.Arm(cred, settings.arm_endpoint, settings.arm_scope, **azure.environment_settings(settings.arm_endpoint))
    hub_keys = frozenset({settings.hub.key} if settings.hub is not None else ())

    aks_token = TokenCache(cred, settings.aks_scope)
    return ports.Ports(
        clusters=caching.CachedClusters(azure.Clusters(arm, policy), hub_keys, facts_ttl_s, clock),
        identities=caching.CachedIdentities(azure.Identities(arm, policy), facts_ttl_s, clock),
        tokens=entra.TokenExchange(settings.authority_host, policy),
        kube=KubeClients(aks_token, policy),
        roles=azure.RoleAssignments(arm, policy),
        run_command=azure.RunCommand(arm, settings.aks_scope, policy, timeout_s=run_command_timeout_s,
                                     poll_s=run_command_poll_s),
    )
