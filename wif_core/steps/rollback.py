"""rollback: after an onboarding failed for good, nothing may point Argo CD at the cluster.

The chain writes the Secret last, once access is bound and verified, so a failed run
has written none; a Secret of ours from an earlier run is removed too, since this run
could not show that Argo CD can use the cluster. What this run created (a binding or
role assignment, in-cluster credentials) is removed; what existed before it, or is not
ours (provenance), stays. Whatever cannot be removed now is listed with the command
that removes it (``commands``), so the failure result says how to finish by hand.
"""
from __future__ import annotations

from typing import Callable, Mapping

from wif_core import config, errors, manifests, model, ports, provenance
from wif_core.steps import deregister, rbac

Results = Mapping[str, object]


def _created_binding(results: Results) -> bool:
    bound = results.get("bind_rbac")
    return isinstance(bound, model.Bound) and bound.action == "created"


def _created_credentials(settings: config.Settings, results: Results) -> tuple[str, ...]:
    federated = results.get("federate")
    if settings.topology != "in-cluster" or not isinstance(federated, model.Federated):
        return ()  # the hub's federation is shared by every cluster it manages: never rolled back
    return federated.created


def commands(settings: config.Settings, d: model.Discovered, results: Results) -> dict[str, str]:
    """Pure: what a rollback removes, each with the command that removes it by hand."""
    t, hub = d.target.ref, d.hub.ref
    secret = manifests.secret_name(t)
    out = {f"Secret {settings.namespace}/{secret}":
           f"az aks command invoke -g {hub.resource_group} -n {hub.name} --command "
           f"'kubectl -n {settings.namespace} delete secret {secret} --ignore-not-found'"}
    if _created_binding(results):
        if rbac.mode(settings, d.target) == "azure":
            name = rbac.assignment(settings, d).name
            out[f"role assignment {name}"] = (f"az role assignment delete --ids "
                                              f"{t.id}/providers/Microsoft.Authorization/roleAssignments/{name}")
        else:
            name = manifests.binding_name(d.identity)
            out[f"ClusterRoleBinding {name}"] = (f"az aks command invoke -g {t.resource_group} -n {t.name} --command "
                                                 f"'kubectl delete clusterrolebinding {name} --ignore-not-found'")
    for name in _created_credentials(settings, results):
        out[f"federated credential {name}"] = (f"az identity federated-credential delete --identity-name "
                                               f"{settings.identity.name} -g {settings.identity.resource_group} -n {name} --yes")
    return out


def _attempt(what: str, fn: Callable[[], str], removed: list[str], left: list[str], by_hand: Mapping[str, str]) -> None:
    try:
        outcome = fn()
    except errors.WifError as e:
        left.append(f"{what} ({errors.short(e.message)}): {by_hand[what]}")
        return
    if outcome == "deleted":
        removed.append(what)
    elif outcome in (provenance.FOREIGN, provenance.OTHER_CLUSTER):
        left.append(f"{what}: not ours ({outcome}), left as it is")


def _credential_remover(p: ports.Ports, settings: config.Settings, name: str) -> Callable[[], str]:
    return lambda: "deleted" if p.identities.delete_credential(settings.identity, name) else "absent"


def rollback(p: ports.Ports, settings: config.Settings, results: Results) -> model.RolledBack:
    d = results.get("discover")
    if not isinstance(d, model.Discovered) or not d.eligible:
        return model.RolledBack()
    by_hand = commands(settings, d, results)
    removed: list[str] = []
    left: list[str] = []
    if _created_binding(results):
        _attempt(next(k for k in by_hand if k.startswith(("role assignment", "ClusterRoleBinding"))),
                 lambda: deregister.binding(p, settings, d), removed, left, by_hand)
    for name in _created_credentials(settings, results):
        _attempt(f"federated credential {name}", _credential_remover(p, settings, name), removed, left, by_hand)
    secret = f"Secret {settings.namespace}/{manifests.secret_name(d.target.ref)}"
    _attempt(secret, lambda: deregister.secret(p, settings, d.hub, d.target.ref), removed, left, by_hand)
    return model.RolledBack(removed=tuple(removed), left=tuple(left))


def describe(result: model.RolledBack) -> str:
    """One clause for the failure message: what was undone, what is left and how to remove it."""
    parts = []
    if result.removed:
        parts.append("rolled back: removed " + ", ".join(result.removed))
    if result.left:
        parts.append("left: " + "; ".join(result.left))
    return "; ".join(parts) or "rolled back: nothing of this run to remove"


def failed(settings: config.Settings, results: Results, why: str) -> str:
    """The clause when the rollback itself could not run: everything it would remove, by hand."""
    d = results.get("discover")
    if not isinstance(d, model.Discovered) or not d.eligible:
        return ""
    steps = "; ".join(f"{what}: {command}" for what, command in commands(settings, d, results).items())
    return f"rollback failed ({errors.short(why)}); remove by hand: {steps}"
