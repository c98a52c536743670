"""Helm values for the argo-cd chart (argoproj/argo-helm) that turn on workload identity on the hub.

Pure rendering, like ``manifests``: the Argo CD identity's facts in, the chart's values out. Each
Argo CD service account in WIF_ARGOCD_SERVICE_ACCOUNTS maps to the chart component that runs
under it; the component gets

* ``<component>.serviceAccount.annotations``: the identity's client and tenant id, which the
  workload identity webhook reads from the service account;
* ``<component>.podLabels``: ``azure.workload.identity/use: "true"``, the webhook's object
  selector: only labelled pods are mutated (token volume, AZURE_* environment).

Nothing the webhook owns is written (token file path, authority host): a value set here would
win over the webhook's and go stale when it changes. The keys were checked against the chart's
values.yaml (tests/data/argo-cd-chart/values-excerpt.yaml, chart 10.1.1).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wif_core import config, errors, model

CLIENT_ID = "azure.workload.identity/client-id"
TENANT_ID = "azure.workload.identity/tenant-id"
USE_LABEL = "azure.workload.identity/use"


@dataclass(frozen=True)
class Component:
    key: str  # the component's top-level key in the chart's values
    chart_default: str  # the chart's default serviceAccount.name ("" = derived from the release name)


# The chart's components by the service account they run under, with the chart's default names.
COMPONENTS: dict[str, Component] = {
    "argocd-application-controller": Component("controller", "argocd-application-controller"),
    "argocd-server": Component("server", "argocd-server"),
    # The chart names it <fullname>-repo-server: argocd-repo-server only for a release called argocd.
    "argocd-repo-server": Component("repoServer", ""),
    "argocd-applicationset-controller": Component("applicationSet", "argocd-applicationset-controller"),
}


def components(service_accounts: tuple[str, ...]) -> list[tuple[str, Component]]:
    """The chart component of each service account; an unknown name is a ConfigError naming the setting."""
    unknown = [sa for sa in service_accounts if sa not in COMPONENTS]
    if unknown:
        known = ", ".join(COMPONENTS)
        raise errors.ConfigError(
            f"WIF_ARGOCD_SERVICE_ACCOUNTS: {', '.join(unknown)} is not the service account of an argo-cd chart "
            f"component; use the chart's names ({known})")
    return [(sa, COMPONENTS[sa]) for sa in service_accounts]


def values(settings: config.Settings, identity: model.IdentityFacts) -> dict[str, Any]:
    """The chart values, one block per component, in the order of WIF_ARGOCD_SERVICE_ACCOUNTS."""
    if not identity.client_id or not identity.tenant_id:
        raise errors.PermanentError(
            f"identity {identity.id} has no client or tenant id; check WIF_ARGOCD_IDENTITY_ID")
    doc: dict[str, Any] = {}
    for sa, component in components(settings.service_accounts):
        account: dict[str, Any] = {"annotations": {CLIENT_ID: identity.client_id, TENANT_ID: identity.tenant_id}}
        if component.chart_default != sa:
            # Pinned: the federated credential's subject names this account, whatever the release is called.
            account["name"] = sa
        doc[component.key] = {"podLabels": {USE_LABEL: "true"}, "serviceAccount": account}
    return doc


def header(settings: config.Settings, identity: model.IdentityFacts) -> str:
    """The YAML comment that says what the values are for and how to apply them."""
    lines = [
        "Helm values for the argo-cd chart (argoproj/argo-helm): Azure workload identity for",
        f"{', '.join(settings.service_accounts)} with the managed identity {identity.name} (client id {identity.client_id}).",
        "Apply on the hub (argocd is the Helm release's name: use yours), keeping the release's other values:",
        "",
        f"  python -m wif_core argocd-values | helm upgrade argocd argo/argo-cd -n {settings.namespace} --reuse-values -f -",
        "",
        "Helm rolls the pods, whose labels change, and the workload identity webhook mutates the new ones.",
        "The hub needs --enable-oidc-issuer --enable-workload-identity; the function writes the federated credentials.",
    ]
    return "".join(f"# {line}".rstrip() + "\n" for line in lines)
