"""Every app setting, read once from the environment and validated.

``Settings.from_env()`` fails at start with one line naming the variable and
what it expects (every variable to fix, when there are several). ``SETTING_NAMES``
is the list README, ``local.settings.sample.json`` and ``infra/`` are checked against.
"""
from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Optional, TypeVar, cast

from wif_core import errors, model

T = TypeVar("T")

AKS_SERVER_APP_ID = "6dae42f8-4368-4678-94ff-3960e28e3630"  # same in every public/sovereign cloud
AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
# Not written into the Secret when it is this: argocd-k8s-auth sets no environment then, and kubelogin
# takes the authority from AZURE_AUTHORITY_HOST (the webhook's) or falls back to the public cloud.
DEFAULT_AAD_ENVIRONMENT = "AzurePublicCloud"
DEFAULT_NAME_TEMPLATE = "{name}-{hash}"
NAME_FIELDS = ("name", "resource_group", "subscription_id", "location", "hash")

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
_GUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_TAG = re.compile(r"[^<>%&\\?/,=]{1,512}")

# name -> (default or None when required, one-line description for README)
SETTINGS: dict[str, tuple[Optional[str], str]] = {
    "WIF_HUB_CLUSTER_ID": ("", "ARM id of the AKS cluster where Argo CD runs (required for the hub topology)"),
    "WIF_ARGOCD_IDENTITY_ID": (None, "ARM id of the user-assigned managed identity Argo CD uses"),
    "WIF_ALLOWED_SCOPES": (None, "comma list of /subscriptions/<guid>[/resourceGroups/<name>] this deployment may touch"),
    "WIF_ARGOCD_NAMESPACE": ("argocd", "namespace of Argo CD (cluster Secrets go here)"),
    "WIF_ARGOCD_SERVICE_ACCOUNTS": (
        "argocd-application-controller,argocd-server", "Argo CD service accounts that talk to clusters"),
    "WIF_TOPOLOGY": ("hub", "hub (one Argo CD manages many clusters) or in-cluster (Argo CD in each cluster)"),
    "WIF_RBAC_MODE": ("auto", "auto (Azure RBAC when the cluster uses it), kubernetes or azure"),
    "WIF_CLUSTER_ROLE": ("cluster-admin", "ClusterRole bound to the Argo CD identity on each cluster"),
    "WIF_AZURE_RBAC_ROLE_ID": (AKS_RBAC_CLUSTER_ADMIN, "role definition GUID assigned on Azure-RBAC clusters"),
    "WIF_OPT_IN_TAG": ("", "when set (key or key=value), only clusters carrying this Azure tag are registered"),
    "WIF_LABEL_TAGS": ("", "comma list of Azure tag names copied into the cluster Secret's labels"),
    "WIF_RUN_COMMAND": ("true", "reach private clusters through AKS run command"),
    "WIF_VERIFY": ("true", "end with a SubjectAccessReview for the Argo CD identity"),
    "WIF_PROVISIONING_TIMEOUT_SECONDS": ("1800", "how long to wait for provisioningState Succeeded"),
    "WIF_PROPAGATION_TIMEOUT_SECONDS": ("900", "how long to wait for federation and RBAC to propagate"),
    "WIF_ARM_ENDPOINT": ("https://management.azure.com", "Azure Resource Manager endpoint (sovereign clouds differ)"),
    "AZURE_AUTHORITY_HOST": ("https://login.microsoftonline.com", "Entra ID authority host (also read by azure-identity)"),
    "WIF_AKS_SERVER_APP_ID": (AKS_SERVER_APP_ID, "application id of the AKS AAD server (token audience)"),
    "WIF_AAD_ENVIRONMENT_NAME": (
        "AzurePublicCloud", "AAD_ENVIRONMENT_NAME given to argocd-k8s-auth (written into the Secret only when not the default)"),
    # Empty by default (= DEFAULT_NAME_TEMPLATE): azd's ${NAME=default} cannot carry a "}" in its default.
    "WIF_CLUSTER_NAME_TEMPLATE": (
        "", "Argo CD cluster name, empty = {name}-{hash}; fields {name} {resource_group} {subscription_id} {location} "
        "{hash}, made DNS-safe; must hold {hash}"),
    "WIF_FEDERATED_TOKEN_FILE": (
        "", "opt-in override of AZURE_FEDERATED_TOKEN_FILE in the Secret; empty = the webhook's (recommended)"),
    "WIF_ARGOCD_AUTHORITY_HOST": (
        "", "opt-in override of AZURE_AUTHORITY_HOST in the Secret; empty = the webhook's (recommended)"),
}
SETTING_NAMES: tuple[str, ...] = tuple(SETTINGS)


def _fail(name: str, expected: str, value: Optional[str] = None) -> errors.ConfigError:
    got = "it is not set" if value is None else f"got {value[:120]!r}"
    return errors.ConfigError(f"{name} must be {expected}; {got}")


def _bool(name: str, raw: str) -> bool:
    low = raw.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise _fail(name, "true or false", raw)


def _seconds(name: str, raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise _fail(name, "a whole number of seconds", raw) from None
    if not 1 <= value <= 7 * 24 * 3600:
        raise _fail(name, "between 1 and 604800 seconds", raw)
    return value


def _https(name: str, raw: str) -> str:
    value = raw.strip().rstrip("/")
    if not re.fullmatch(r"https://[^\s/?#]+(/[^\s?#]*)?", value):
        raise _fail(name, "an https:// URL", raw)
    return value


def _choice(name: str, raw: str, options: tuple[str, ...]) -> str:
    value = raw.strip().lower()
    if value not in options:
        raise _fail(name, " | ".join(options), raw)
    return value


def _items(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _parsed(name: str, raw: str, parse: Callable[[str], T]) -> T:
    try:
        return parse(raw)
    except errors.BadInput as e:
        raise errors.ConfigError(f"{name}: {e.message}") from None


@dataclass(frozen=True)
class OptInTag:
    key: str
    value: Optional[str] = None  # None: any value

    def matches(self, tags: Mapping[str, str]) -> bool:
        for k, v in tags.items():
            if k.lower() == self.key.lower():
                return self.value is None or v == self.value
        return False

    def __str__(self) -> str:
        return self.key if self.value is None else f"{self.key}={self.value}"


@dataclass(frozen=True)
class Settings:
    hub: Optional[model.ClusterRef]  # None for the in-cluster topology
    identity: model.IdentityRef
    allowed_scopes: tuple[model.Scope, ...]
    namespace: str = "argocd"
    service_accounts: tuple[str, ...] = ("argocd-application-controller", "argocd-server")
    topology: str = "hub"
    rbac_mode: str = "auto"
    cluster_role: str = "cluster-admin"
    azure_rbac_role_id: str = AKS_RBAC_CLUSTER_ADMIN
    opt_in_tag: Optional[OptInTag] = None
    label_tags: tuple[str, ...] = ()
    run_command: bool = True
    verify: bool = True
    provisioning_timeout_s: int = 1800
    propagation_timeout_s: int = 900
    arm_endpoint: str = "https://management.azure.com"
    authority_host: str = "https://login.microsoftonline.com"
    aks_server_app_id: str = AKS_SERVER_APP_ID
    aad_environment_name: str = "AzurePublicCloud"
    cluster_name_template: str = DEFAULT_NAME_TEMPLATE
    # Opt-in overrides of what the workload-identity webhook injects into Argo CD's pods
    # (empty: not written, the webhook's value holds and follows its upgrades).
    federated_token_file: str = ""
    argocd_authority_host: str = ""
    extra: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def arm_scope(self) -> str:
        return f"{self.arm_endpoint}/.default"

    @property
    def aks_scope(self) -> str:
        return f"{self.aks_server_app_id}/.default"

    def subjects(self) -> tuple[str, ...]:
        return tuple(f"system:serviceaccount:{self.namespace}:{sa}" for sa in self.service_accounts)

    def allows(self, ref: model.ClusterRef) -> bool:
        return any(scope.contains(ref) for scope in self.allowed_scopes)

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> Settings:
        get = _reader(os.environ if env is None else env)
        problems = _Problems()  # every setting is tried, so that one run names all there are to fix
        keep = problems.keep
        topology = keep(lambda: _choice("WIF_TOPOLOGY", get("WIF_TOPOLOGY"), ("hub", "in-cluster")))
        hub_raw = get("WIF_HUB_CLUSTER_ID").strip()
        if topology == "hub" and not hub_raw:
            problems.add(errors.ConfigError(f"WIF_HUB_CLUSTER_ID is not set: {SETTINGS['WIF_HUB_CLUSTER_ID'][1]}"))
        settings = cls(
            hub=keep(lambda: _parsed("WIF_HUB_CLUSTER_ID", hub_raw, model.ClusterRef.parse) if hub_raw else None),
            identity=keep(lambda: _parsed("WIF_ARGOCD_IDENTITY_ID", get("WIF_ARGOCD_IDENTITY_ID"), model.IdentityRef.parse)),
            allowed_scopes=keep(lambda: _scopes(get("WIF_ALLOWED_SCOPES"))),
            namespace=keep(lambda: _dns("WIF_ARGOCD_NAMESPACE", get("WIF_ARGOCD_NAMESPACE"), _DNS_LABEL, "a namespace name")),
            service_accounts=keep(lambda: _service_accounts(get("WIF_ARGOCD_SERVICE_ACCOUNTS"))),
            topology=topology,
            rbac_mode=keep(lambda: _choice("WIF_RBAC_MODE", get("WIF_RBAC_MODE"), ("auto", "kubernetes", "azure"))),
            cluster_role=keep(lambda: _dns("WIF_CLUSTER_ROLE", get("WIF_CLUSTER_ROLE"), _DNS_SUBDOMAIN, "a ClusterRole name")),
            azure_rbac_role_id=keep(lambda: _guid("WIF_AZURE_RBAC_ROLE_ID", get("WIF_AZURE_RBAC_ROLE_ID"))),
            opt_in_tag=keep(lambda: _opt_in(get("WIF_OPT_IN_TAG"))),
            label_tags=keep(lambda: _label_tags(get("WIF_LABEL_TAGS"))),
            run_command=keep(lambda: _bool("WIF_RUN_COMMAND", get("WIF_RUN_COMMAND"))),
            verify=keep(lambda: _bool("WIF_VERIFY", get("WIF_VERIFY"))),
            provisioning_timeout_s=keep(lambda: _seconds("WIF_PROVISIONING_TIMEOUT_SECONDS",
                                                         get("WIF_PROVISIONING_TIMEOUT_SECONDS"))),
            propagation_timeout_s=keep(lambda: _seconds("WIF_PROPAGATION_TIMEOUT_SECONDS",
                                                        get("WIF_PROPAGATION_TIMEOUT_SECONDS"))),
            arm_endpoint=keep(lambda: _https("WIF_ARM_ENDPOINT", get("WIF_ARM_ENDPOINT"))),
            authority_host=keep(lambda: _https("AZURE_AUTHORITY_HOST", get("AZURE_AUTHORITY_HOST"))),
            aks_server_app_id=keep(lambda: _guid("WIF_AKS_SERVER_APP_ID", get("WIF_AKS_SERVER_APP_ID"))),
            aad_environment_name=keep(lambda: _aad_env(get("WIF_AAD_ENVIRONMENT_NAME"))),
            cluster_name_template=keep(lambda: _name_template(get("WIF_CLUSTER_NAME_TEMPLATE"))),
            federated_token_file=keep(lambda: _abs_path("WIF_FEDERATED_TOKEN_FILE", get("WIF_FEDERATED_TOKEN_FILE"))),
            argocd_authority_host=keep(lambda: _optional(get("WIF_ARGOCD_AUTHORITY_HOST"),
                                                         lambda raw: _https("WIF_ARGOCD_AUTHORITY_HOST", raw) + "/")),
        )
        problems.check()
        return settings


def _reader(env: Mapping[str, str]) -> Callable[[str], str]:
    def get(name: str) -> str:
        default, _ = SETTINGS[name]
        raw = env.get(name)
        if raw is None or not raw.strip():
            if default is None:
                raise errors.ConfigError(f"{name} is not set: {SETTINGS[name][1]}")
            return default
        return raw

    return get


class _Problems:
    """The settings' errors, collected: one line for all of them (a single one keeps its own message)."""

    def __init__(self) -> None:
        self.found: list[errors.ConfigError] = []

    def add(self, e: errors.ConfigError) -> None:
        self.found.append(e)

    def keep(self, read: Callable[[], T]) -> T:
        try:
            return read()
        except errors.ConfigError as e:
            self.add(e)
            return cast(T, None)  # never used: check() raises before the Settings are returned

    def check(self) -> None:
        if len(self.found) == 1:
            raise self.found[0]
        if self.found:
            raise errors.ConfigError(join(e.message for e in self.found))


def join(messages: Iterable[str]) -> str:
    """``A, B are not set; C must be ...``: the missing ones by name (README has what each is), then the rest."""
    messages = list(messages)
    missing = [m.split()[0] for m in messages if " is not set" in m.split(":")[0]]
    rest = [m for m in messages if " is not set" not in m.split(":")[0]]
    # " and ", not commas: the message still starts with a variable's name, alone
    head = [f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set (see README, Settings)"] if missing else []
    return "; ".join(head + rest)


def _scopes(raw: str) -> tuple[model.Scope, ...]:
    items = _items(raw)
    if not items:
        raise _fail("WIF_ALLOWED_SCOPES", "a comma list of /subscriptions/<guid>[/resourceGroups/<name>]", raw)
    return tuple(_parsed("WIF_ALLOWED_SCOPES", item, model.Scope.parse) for item in items)


def _dns(name: str, raw: str, pattern: re.Pattern[str], what: str) -> str:
    value = raw.strip()
    if not pattern.fullmatch(value):
        raise _fail(name, f"{what} (lower-case letters, digits and '-')", raw)
    return value


def _service_accounts(raw: str) -> tuple[str, ...]:
    names = _items(raw)
    if not names:
        raise _fail("WIF_ARGOCD_SERVICE_ACCOUNTS", "a comma list of service account names", raw)
    for sa in names:
        _dns("WIF_ARGOCD_SERVICE_ACCOUNTS", sa, _DNS_SUBDOMAIN, "a comma list of service account names")
    return tuple(dict.fromkeys(names))


def _guid(name: str, raw: str) -> str:
    value = raw.strip().lower()
    if not _GUID.fullmatch(value):
        raise _fail(name, "a GUID", raw)
    return value


def _opt_in(raw: str) -> Optional[OptInTag]:
    text = raw.strip()
    if not text:
        return None
    key, sep, value = text.partition("=")
    if not _TAG.fullmatch(key.strip()) or (sep and not value.strip()):
        raise _fail("WIF_OPT_IN_TAG", "an Azure tag name, or name=value", raw)
    return OptInTag(key.strip(), value.strip() if sep else None)


def _label_tags(raw: str) -> tuple[str, ...]:
    names = _items(raw)
    for tag in names:
        if not _TAG.fullmatch(tag):
            raise _fail("WIF_LABEL_TAGS", "a comma list of Azure tag names", raw)
    return tuple(names)


def _aad_env(raw: str) -> str:
    value = raw.strip()
    known = ("AzurePublicCloud", "AzureChinaCloud", "AzureUSGovernmentCloud")
    if value not in known:
        raise _fail("WIF_AAD_ENVIRONMENT_NAME", " | ".join(known), raw)
    return value


def _optional(raw: str, parse: Callable[[str], str]) -> str:
    return parse(raw) if raw.strip() else ""


def _abs_path(name: str, raw: str) -> str:
    value = raw.strip()
    if not value:
        return ""
    if not value.startswith("/") or "\n" in value:
        raise _fail(name, "an absolute path (or empty)", raw)
    return value


def _name_template(raw: str) -> str:
    """``{name}-{hash}``-style; only known fields, and {hash} to tell any two clusters apart."""
    value = raw.strip()
    if not value:
        return DEFAULT_NAME_TEMPLATE
    expected = "a template of {name} {resource_group} {subscription_id} {location} {hash}"
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
    except ValueError:
        raise _fail("WIF_CLUSTER_NAME_TEMPLATE", expected, raw) from None
    unknown = fields - set(NAME_FIELDS)
    if unknown or not fields:
        raise _fail("WIF_CLUSTER_NAME_TEMPLATE", f"{expected} (unknown: {', '.join(sorted(unknown)) or 'none used'})", raw)
    if "hash" not in fields:
        # Even all of name, group and subscription are not unique once made DNS-safe: "x-y"/"z" and
        # "x"/"y-z" fold to the same text, and "_" and "." become "-".
        raise _fail("WIF_CLUSTER_NAME_TEMPLATE", "unique per cluster: it must hold {hash}", raw)
    return value
