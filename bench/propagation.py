"""Propagation lag: how late the chain notices that a new federated credential works.

The sandbox's Entra refuses a token exchange with ``AADSTS70021`` until
``propagation_delay_s`` (D) has passed since the credential's ARM write, as Entra
does while a credential propagates. One cluster is onboarded through the function
app (``LocalDurable`` with the real clock: durable timers really wait), and:

    valid_at = max(write time of the credentials, from the sandbox's record) + D
    lag      = (moment the await_propagation activity returns "done") - valid_at

Both instants are on the sandbox's clock. The chain polls at an interval of
``max(1 s, 9% of the time waited)`` (``chain.Wait``), so the goal is lag <= 0.1*D + 1 s.
"""
from __future__ import annotations

from typing import Any, Callable

import bench
from wif_sandbox import faults
from wif_sandbox.world import Sandbox

STEP = "await_propagation"


def _instrument(host: Any, clock: Callable[[], float]) -> dict[str, float]:
    """Wrap the ``run_step`` activity: note when await_propagation first returns done, count its runs."""
    seen: dict[str, float] = {"runs": 0.0}
    inner = host.functions["run_step"]

    def run_step(payload: Any) -> Any:
        result = inner(payload)
        if isinstance(payload, dict) and payload.get("step") == STEP:
            seen["runs"] += 1
            if isinstance(result, dict) and result.get("status") == "done" and "done_at" not in seen:
                seen["done_at"] = clock()
        return result

    host.functions["run_step"] = run_step
    return seen


def measure(delay_s: float = 20.0) -> dict[str, object]:
    from wif_core import model
    from wif_functions import activities, instances
    from wif_sandbox import driver

    with Sandbox.start(targets=1, faults=faults.Faults(propagation_delay_s=delay_s)) as sb, bench.environment(sb.env):
        activities.use(None)
        host = driver.LocalDurable()
        seen = _instrument(host, sb.clock)
        cluster_id = sb.target_ids[0]
        started = sb.clock()
        host.deliver(sb.event(cluster_id))
        inst = host.run(instances.instance_id(model.ClusterRef.parse(cluster_id)))
        finished = sb.clock()
        if inst.status != "Completed" or "done_at" not in seen:
            raise RuntimeError(f"propagation run ended {inst.status}: {inst.output}")
        identity = sb.arm.identities.get(sb.identity_id)
        written = [c.written_at for c in identity.wi.snapshot()] if identity is not None else []
        if not written:
            raise RuntimeError("no federated credential was written")
        valid_at = max(written) + delay_s
        exchanges = sb.log.total(operation="token.client_assertion")
    return {"propagation_delay_s": delay_s, "propagation_lag_s": round(seen["done_at"] - valid_at, 3),
            "propagation_step_runs": int(seen["runs"]), "propagation_exchanges": exchanges,
            "propagation_onboarding_s": round(finished - started, 2)}
