"""rollback: after an onboarding failed for good, nothing may point Argo CD at a cluster it cannot use.

The chain writes the Secret last, once access is bound and verified, so a failed run has
written none. What happens to the rest depends on our Secret, the record of a registration:

* no Secret of ours (never fully registered): everything of ours for this cluster goes, by
  provenance (the binding or role assignment, in-cluster credentials), whichever run made it;
* a Secret from an earlier registration, and the failure shows Argo CD cannot use the cluster
  (its grant refused or gone, verify denied until the deadline: ``unusable``): it is
  deregistered, the Secret last;
* a Secret from an earlier registration and a failure that says nothing about the cluster
  (retries ran out on a transient error, the hub's shared federation, a conflict): all stays,
  and the result says so with the command that would remove it. Removing a working cluster
  from Argo CD because of a flaky minute would delete what its ApplicationSets generated.

Whatever cannot be removed now is listed with the command that removes it by hand.
"""
from __future__ import annotations

from typing import Callable, Mapping

from wif_core import config, errors, manifests, model, ports, provenance
from wif_core.steps import deregister, rbac

Results = Mapping[str, object]
# Steps whose permanent failure (or deadline) is about this cluster's access for Argo CD.
_ACCESS_STEPS = ("bind_rbac", "verify")


def unusable(failure: object) -> bool:
    """Pure: does the failure show that Argo CD cannot use the cluster?"""
    return (isinstance(failure, model.Failure) and failure.step in _ACCESS_STEPS
            and failure.kind in ("permanent", "timeout"))


def commands(settings: config.Settings, d: model.Discovered) -> dict[str, str]:
    """Pure: what a rollback may remove, each with the command that removes it by hand."""
    t, hub = d.target.ref, d.hub.ref
    secret = manifests.secret_name(t)
    out = {f"Secret {settings.namespace}/{secret}":
           f"az aks command invoke -g {hub.resource_group} -n {hub.name} --command "
           f"'kubectl -n {settings.namespace} delete secret {secret} --ignore-not-found'"}
    try:
        azure = rbac.mode(settings, d.target) == "azure"
    except errors.PermanentError:
        azure = False
    if azure:
        name = rbac.assignment(settings, d).name
        out["role assignment"] = ("az role assignment delete --ids "
                                  f"{t.id}/providers/Microsoft.Authorization/roleAssignments/{name}")
    else:
        name = manifests.binding_name(d.identity)
        out["ClusterRoleBinding"] = (f"az aks command invoke -g {t.resource_group} -n {t.name} --command "
                                     f"'kubectl delete clusterrolebinding {name} --ignore-not-found'")
    if settings.topology == "in-cluster":
        names = " ".join(manifests.credential_name(t, s) for s in settings.subjects())
        out["federated credentials"] = (f"for n in {names}; do az identity federated-credential delete --identity-name "
                                        f"{settings.identity.name} -g {settings.identity.resource_group} -n $n --yes; done")
    return out


def _attempt(what: str, fn: Callable[[], object], removed: list[str], left: list[str], by_hand: Mapping[str, str]) -> None:
    try:
        outcome = fn()
    except errors.WifError as e:
        left.append(f"{what} ({errors.short(e.message, 160)}): {by_hand[what]}")
        return
    if isinstance(outcome, tuple):  # names removed (credentials)
        if outcome:
            removed.append(f"{what} {', '.join(str(name) for name in outcome)}")
    elif outcome == "deleted":
        removed.append(what)
    elif outcome in (provenance.FOREIGN, provenance.OTHER_CLUSTER):
        left.append(f"{what}: not ours ({outcome}), left as it is")


def rollback(p: ports.Ports, settings: config.Settings, results: Results) -> model.RolledBack:
    d, failure = results.get("discover"), results.get("failure")
    if not isinstance(d, model.Discovered) or not d.eligible:
        return model.RolledBack()
    by_hand = commands(settings, d)
    secret = next(iter(by_hand))
    removed: list[str] = []
    left: list[str] = []
    try:
        owner, checked = deregister.secret_owner(p, settings, d.hub, d.target.ref)
    except errors.WifError as e:
        return model.RolledBack(left=(f"{secret} (could not be read: {errors.short(e.message, 160)}): {by_hand[secret]}",))
    if owner == provenance.OURS and not unusable(failure):
        why = f"{failure.step} failed ({failure.kind})" if isinstance(failure, model.Failure) else "the run failed"
        return model.RolledBack(left=(f"{secret} from an earlier registration kept: {why}, which does not show that "
                                      f"Argo CD cannot use the cluster; to take it out: {by_hand[secret]}",))
    grant = next(k for k in by_hand if k in ("role assignment", "ClusterRoleBinding"))
    _attempt(grant, lambda: deregister.binding(p, settings, d), removed, left, by_hand)
    if settings.topology == "in-cluster":
        _attempt("federated credentials", lambda: deregister.credentials(p, settings, d.target.ref, d.target.oidc_issuer),
                 removed, left, by_hand)
    if owner == provenance.OURS:
        _attempt(secret, lambda: deregister.delete_secret(p, settings, d.hub, d.target.ref, checked), removed, left, by_hand)
    return model.RolledBack(removed=tuple(removed), left=tuple(left))


def describe(result: model.RolledBack) -> str:
    """One clause for the failure message: what was undone, what is left and how to remove it."""
    parts = []
    if result.removed:
        parts.append("rolled back: removed " + ", ".join(result.removed))
    if result.left:
        parts.append("left: " + "; ".join(result.left))
    return "; ".join(parts) or "rolled back: nothing of ours to remove"


def failed(settings: config.Settings, results: Results, why: str) -> str:
    """The clause when the rollback itself could not run: everything it would remove, by hand."""
    d = results.get("discover")
    if not isinstance(d, model.Discovered) or not d.eligible:
        return ""
    steps = "; ".join(f"{what}: {command}" for what, command in commands(settings, d).items())
    return f"rollback failed ({errors.short(why)}); remove by hand what is ours: {steps}"
