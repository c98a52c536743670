"""verify: ask the target whether the Argo CD identity may now act there.

Azure role assignments take minutes to reach AKS's authorization webhook, so
a denial is ``NotReady`` (polled to the deadline), not a failure.
"""
from __future__ import annotations

from wif_core import config, errors, model, ports
from wif_core.steps import rbac

# Argo CD's first act on a cluster: discover and list namespaces.
VERB, RESOURCE = "list", "namespaces"


def verify(p: ports.Ports, settings: config.Settings, d: model.Discovered) -> model.Verified:
    user = d.identity.principal_id
    if rbac.via_run_command(settings, d.target):
        result = p.run_command.run(d.target.ref, f"kubectl auth can-i {VERB} {RESOURCE} --as={user}", {})
        allowed, reason = result.exit_code == 0, result.logs.strip()[-200:]
    else:
        allowed, reason = p.kube(d.target).can_i(user, (), VERB, RESOURCE)
    if not allowed:
        raise errors.NotReady(f"identity {d.identity.name} may not {VERB} {RESOURCE} on {d.target.ref.name} yet"
                              + (f": {reason}" if reason else ""))
    return model.Verified(True, reason)
