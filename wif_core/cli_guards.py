"""The command line's guards around the chains: ``onboard`` never removes, ``verify`` needs a registration.

Events and the function app run the chains as they are; a person at the command line gets an
answer instead of a removal nobody asked for, or instead of a 15-minute poll for access that was
never granted.
"""
from __future__ import annotations

from wif_core import chain, config, manifests, model, ports, provenance, runner
from wif_core.steps import deregister, discover


class NotEligible(Exception):
    """The CLI's onboard stops: the register chain's next step would remove the registration."""

    def __init__(self, results: dict[str, object]) -> None:
        super().__init__("not eligible")
        self.results = results


class OnboardRunner(runner.Runner):
    """The register chain as a person runs it: it never removes anything.

    Events and the function app keep the chain's last step, which takes out a cluster that lost
    its opt-in tag; someone who typed ``onboard`` is told instead, since removal is ``offboard``.
    The hub still reaches that step: for the hub it only reports the skip, without a look.
    """

    def _step(self, step: chain.Step, ref: model.ClusterRef, results: dict[str, object], started: float) -> object:
        found = results.get("discover")
        if step.name == "deregister" and isinstance(found, model.Discovered) and not discover.is_hub(self.settings, ref):
            owner, _ = deregister.secret_owner(self.ports, self.settings, found.hub, found.target.ref)
            if owner == provenance.OURS:  # registered: the step would take it out
                raise NotEligible(results)
            # Never registered: nothing to keep or remove, a skip with its reason (exit 0), and no look further.
            return model.Deregistered(secret=owner, binding="skipped", reason=f"not registered: {found.reason}")
        return super()._step(step, ref, results, started)


def not_eligible(ref: model.ClusterRef, results: dict[str, object]) -> runner.Report:
    found = results.get("discover")
    why = found.reason if isinstance(found, model.Discovered) else "outside the opt-in"
    return runner.Report(cluster=ref.id, chain="register", ok=False, results=results,
                         error=f"not eligible: {why}; nothing changed (use offboard to remove it)")


def unregistered(p: ports.Ports, settings: config.Settings, ref: model.ClusterRef) -> str:
    """Why ``ref`` has no registration to verify ("" when our Secret is there): one read, no polling.

    Outside the allowed scopes and the hub are left to the chain, which says so itself.
    """
    if not settings.allows(ref) or discover.is_hub(settings, ref):
        return ""
    if settings.topology == "hub":
        assert settings.hub is not None  # Settings guarantee it for this topology
        where = p.clusters.get_cluster(settings.hub)
    else:
        where = p.clusters.get_cluster(ref)  # in-cluster: the Secret lives on the target itself
    owner, _ = deregister.secret_owner(p, settings, where, ref)
    if owner == provenance.OURS:
        return ""
    secret = f"{settings.namespace}/{manifests.secret_name(ref)}"
    found = f"no Secret {secret}" if owner == "absent" else f"Secret {secret} is not ours ({owner})"
    return f"not registered ({found} on {where.ref.name}); run onboard"
