"""Facts the steps pass along: parsed ARM ids and what we read from Azure.

All frozen dataclasses of plain values, so they cross the Durable Functions
activity boundary through ``wif_core.codec`` unchanged.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar, Optional

from typing_extensions import Self

from wif_core import errors

_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# Azure naming rules: resource group 1-90 of letters, digits, _ ( ) - . and not
# ending in "."; AKS cluster 1-63 of letters, digits, _ -, alphanumeric at both
# ends; user-assigned identity 3-128 of letters, digits, _ -, alphanumeric first.
_RG = r"[-\w.()]{0,89}[-\w()]"
_AKS = r"[A-Za-z0-9](?:[-_A-Za-z0-9]{0,61}[A-Za-z0-9])?"
_MSI = r"[A-Za-z0-9][-_A-Za-z0-9]{2,127}"
_CLUSTER_RE = re.compile(
    rf"/subscriptions/(?P<sub>{_GUID})/resourceGroups/(?P<rg>{_RG})"
    rf"/providers/Microsoft\.ContainerService/managedClusters/(?P<name>{_AKS})",
    re.IGNORECASE | re.ASCII,
)
_IDENTITY_RE = re.compile(
    rf"/subscriptions/(?P<sub>{_GUID})/resourceGroups/(?P<rg>{_RG})"
    rf"/providers/Microsoft\.ManagedIdentity/userAssignedIdentities/(?P<name>{_MSI})",
    re.IGNORECASE | re.ASCII,
)
_SCOPE_RE = re.compile(
    rf"/subscriptions/(?P<sub>{_GUID})(?:/resourceGroups/(?P<rg>{_RG}))?",
    re.IGNORECASE | re.ASCII,
)
MAX_ID_LENGTH = 1024


def _match(pattern: re.Pattern[str], value: object, what: str, example: str) -> re.Match[str]:
    if not isinstance(value, str):
        raise errors.BadInput(f"{what} must be a string, got {type(value).__name__}")
    text = value.strip().rstrip("/")
    if len(text) > MAX_ID_LENGTH:
        raise errors.BadInput(f"{what} is longer than {MAX_ID_LENGTH} characters")
    m = pattern.fullmatch(text)
    if m is None:
        shown = repr(text)  # bounded after escaping: a control character takes four
        raise errors.BadInput(f"{what} {shown if len(shown) <= 200 else shown[:200] + '...'} is not of the form {example}")
    return m


@dataclass(frozen=True)
class _ArmRef:
    """A resource in a resource group: validated on parse, compared case-insensitively by ``key``."""

    subscription_id: str
    resource_group: str
    name: str

    PROVIDER: ClassVar[str] = ""
    WHAT: ClassVar[str] = ""
    PATTERN: ClassVar[re.Pattern[str]]

    @classmethod
    def example(cls) -> str:
        return f"/subscriptions/<guid>/resourceGroups/<group>/providers/{cls.PROVIDER}/<name>"

    @classmethod
    def parse(cls, value: object) -> Self:
        m = _match(cls.PATTERN, value, cls.WHAT, cls.example())
        return cls(m["sub"].lower(), m["rg"], m["name"])

    @property
    def id(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/{self.PROVIDER}/{self.name}"

    @property
    def key(self) -> str:
        """Case-insensitive identity (ARM ids are case-insensitive)."""
        return self.id.lower()

    def __str__(self) -> str:
        return self.id


@dataclass(frozen=True)
class ClusterRef(_ArmRef):
    """An AKS cluster's ARM id."""

    PROVIDER: ClassVar[str] = "Microsoft.ContainerService/managedClusters"
    WHAT: ClassVar[str] = "cluster id"
    PATTERN: ClassVar[re.Pattern[str]] = _CLUSTER_RE


@dataclass(frozen=True)
class IdentityRef(_ArmRef):
    """A user-assigned managed identity's ARM id."""

    PROVIDER: ClassVar[str] = "Microsoft.ManagedIdentity/userAssignedIdentities"
    WHAT: ClassVar[str] = "identity id"
    PATTERN: ClassVar[re.Pattern[str]] = _IDENTITY_RE


@dataclass(frozen=True)
class Scope:
    """A subscription, or a resource group in one, that this deployment may touch."""

    subscription_id: str
    resource_group: Optional[str] = None

    @classmethod
    def parse(cls, value: object) -> Scope:
        m = _match(_SCOPE_RE, value, "scope", "/subscriptions/<guid>[/resourceGroups/<group>]")
        return cls(m["sub"].lower(), m["rg"])

    def contains(self, ref: ClusterRef) -> bool:
        if ref.subscription_id.lower() != self.subscription_id:
            return False
        return self.resource_group is None or self.resource_group.lower() == ref.resource_group.lower()

    def __str__(self) -> str:
        rg = f"/resourceGroups/{self.resource_group}" if self.resource_group else ""
        return f"/subscriptions/{self.subscription_id}{rg}"


@dataclass(frozen=True)
class ClusterFacts:
    """What ``discover`` read about a cluster from ARM."""

    ref: ClusterRef
    provisioning_state: str
    location: str
    server: str  # https URL of the API server (public FQDN or private FQDN)
    ca_data: str  # base64 of the PEM CA bundle, as in a kubeconfig
    private: bool
    aad: bool  # AKS-managed Entra ID integration enabled
    azure_rbac: bool
    oidc_issuer: Optional[str]
    workload_identity: bool
    tenant_id: Optional[str]
    tags: tuple[tuple[str, str], ...] = ()

    def tag_map(self) -> dict[str, str]:
        return dict(self.tags)


@dataclass(frozen=True)
class IdentityFacts:
    """The Argo CD user-assigned managed identity."""

    id: str
    name: str
    client_id: str
    principal_id: str
    tenant_id: str


@dataclass(frozen=True)
class FederatedCredential:
    name: str
    issuer: str
    subject: str
    audiences: tuple[str, ...] = ("api://AzureADTokenExchange",)

    def same_trust(self, other: FederatedCredential) -> bool:
        """Entra treats issuer+subject as the identity of a credential, whatever its name.

        Compared byte for byte, as Entra compares a token's ``iss`` and ``sub``: AKS issuer URLs
        end with ``/``, and a credential without it never matches their tokens.
        """
        return self.issuer == other.issuer and self.subject == other.subject

    def near_miss(self, other: FederatedCredential) -> str:
        """Pure: why ``other`` looks like ``self`` but cannot match it at Entra ("" if it is not a near miss)."""
        if self.same_trust(other):
            return ""
        if self.subject == other.subject and self.issuer != other.issuer:
            if self.issuer.rstrip("/") == other.issuer.rstrip("/"):
                return (f"credential {other.name} trusts issuer {other.issuer!r}, which differs from {self.issuer!r} "
                        "only by the trailing slash: Entra compares issuers exactly")
            if self.issuer.lower() == other.issuer.lower():
                return (f"credential {other.name} trusts issuer {other.issuer!r}, which differs from {self.issuer!r} "
                        "only in casing: Entra compares issuers exactly")
        if self.issuer == other.issuer and self.subject.lower() == other.subject.lower():
            return (f"credential {other.name} trusts subject {other.subject!r}, which differs from {self.subject!r} "
                    "only in casing: Entra compares subjects exactly")
        return ""


@dataclass(frozen=True)
class RoleAssignment:
    name: str  # GUID
    scope: str
    role_definition_id: str
    principal_id: str
    description: str = ""  # provenance: "aks-argocd-wif for <canonical cluster id>" (wif_core.provenance)


@dataclass(frozen=True)
class RunResult:
    exit_code: int
    logs: str


# ---- step results: facts, named for what became true -------------------------------


@dataclass(frozen=True)
class Discovered:
    target: ClusterFacts
    hub: ClusterFacts  # where Argo CD runs (== target for the in-cluster topology)
    identity: IdentityFacts
    eligible: bool = True
    reason: str = ""


@dataclass(frozen=True)
class Federated:
    identity_id: str
    credentials: tuple[FederatedCredential, ...]
    created: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # near misses: same subject, issuer differing only by "/" or casing


@dataclass(frozen=True)
class Propagated:
    subjects: tuple[str, ...]


@dataclass(frozen=True)
class Registered:
    namespace: str
    name: str
    action: str  # created | updated | unchanged
    notes: tuple[str, ...] = ()  # Azure tags rewritten or skipped on their way to labels


@dataclass(frozen=True)
class Bound:
    mode: str  # kubernetes | azure
    via: str  # api | run-command | arm
    name: str
    action: str  # created | updated | unchanged


@dataclass(frozen=True)
class Verified:
    allowed: bool
    reason: str = ""


@dataclass(frozen=True)
class Deregistered:
    secret: str  # deleted | absent | foreign | other-cluster (both left alone) | skipped
    binding: str  # deleted | absent | foreign | other-cluster (both left alone) | skipped
    credentials: tuple[str, ...] = field(default_factory=tuple)  # names deleted (in-cluster)
    reason: str = ""  # why nothing was looked for (the hub; a cluster that was never registered)


@dataclass(frozen=True)
class RolledBack:
    """What a failed onboarding undid (``removed``) and what is left, each with the command that removes it."""

    removed: tuple[str, ...] = ()
    left: tuple[str, ...] = ()


@dataclass(frozen=True)
class Failure:
    """How a chain failed, for the rollback: which step, its message, and what kind of failure.

    ``kind``: permanent (refused, forbidden, not found), timeout (a wait reached its deadline) or
    transient (retries of a temporary error ran out).
    """

    step: str
    error: str
    kind: str
