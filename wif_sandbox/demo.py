"""``python -m wif_sandbox demo``: the whole product on one machine, in well under a minute.

1. start the sandbox (ARM, Entra ID, OIDC issuers, a hub AKS with Argo CD's namespace);
2. create an AKS cluster through ARM's PUT: Event Grid's ResourceWriteSuccess arrives
   while it is still Creating, and a new federated credential takes a few seconds to propagate;
3. deliver that event to ``function_app``'s own ``on_cluster_event`` and run the Durable
   orchestration through the real replay engine, printing each step with its timing;
4. prove it the way Argo CD would: read the registered Secret, mint the Argo CD service
   account's token, exchange it per the Secret's ``execProviderConfig`` env with
   ``azure-identity``'s WorkloadIdentityCredential, connect to the target with the Secret's
   CA and list namespaces;
5. delete the cluster and show the deregistration.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from wif_sandbox import argo, faults
from wif_sandbox.world import Sandbox

PROPAGATION_S = 3.0
PROVISIONING_S = 2.0


def say(text: str = "") -> None:
    print(text, flush=True)


def _short(error: str) -> str:
    """The end of a long message says why (e.g. '... has not reached Entra yet (AADSTS70021)')."""
    return error if len(error) <= 110 else "..." + error[-100:]


def _follow(durable: Any, instance_id: str, started: float, timings: dict[str, float]) -> Callable[[], None]:
    """Print the orchestration's custom status (step, attempt, last error) as it changes."""
    stop = threading.Event()

    def watch() -> None:
        last, since = None, started
        while not stop.is_set():
            inst = durable.instances.get(instance_id)
            status = getattr(inst, "custom_status", None)
            if isinstance(status, str):
                status = json.loads(status)
            status = status or {}
            view = status.get("step"), status.get("attempt"), status.get("lastError")
            if status and view != last:
                now = time.monotonic()
                if last and last[0] != view[0]:
                    timings[str(last[0])] = now - since
                    since = now
                last = view
                step, attempt, error = view
                note = f"   waiting (poll {attempt}): {_short(error)}" if error else ""
                say(f"  {now - started:6.1f}s  {step}{note}")
            stop.wait(0.02)
        if last:
            timings[str(last[0])] = time.monotonic() - since

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return lambda: (stop.set(), thread.join())


def _run(durable: Any, instance_id: str, title: str) -> Any:
    say(title)
    started = time.monotonic()
    timings: dict[str, float] = {}
    done = _follow(durable, instance_id, started, timings)
    inst = durable.run(instance_id)
    done()
    say(f"  {time.monotonic() - started:6.1f}s  orchestration {inst.status}")
    _step_table(inst, timings)
    return inst


def _step_table(inst: Any, timings: dict[str, float]) -> None:
    from wif_core import chain, runner

    calls: dict[str, int] = {}
    last: dict[str, dict[str, Any]] = {}
    for record in inst.activities:
        step = str((record.get("input") or {}).get("step", "?"))
        calls[step] = calls.get(step, 0) + 1
        last[step] = record
    say(f"    {'step':<18} {'time':>6}  {'calls':>5}  result")
    for step, record in last.items():
        outcome = chain.decode_outcome(record["result"]) if "result" in record else None
        text = runner.summary(outcome.result) if outcome and outcome.status == "done" else (
            outcome.error if outcome else record.get("error", ""))
        say(f"    {step:<18} {timings.get(step, 0.0):5.1f}s  {calls[step]:>5}  {text}")


def _kubectl_secrets(sb: Sandbox) -> None:
    if not shutil.which("kubectl"):
        return
    cmd = ["kubectl", "--kubeconfig", str(sb.kubeconfig_path), "--context", sb.cluster(sb.hub_id).name,
           "get", "secrets", "-n", "argocd", "-l", "argocd.argoproj.io/secret-type=cluster"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    say("  $ kubectl get secrets -n argocd -l argocd.argoproj.io/secret-type=cluster")
    for line in (out.stdout or out.stderr).strip().splitlines():
        say(f"    {line}")


def main() -> int:
    logging.getLogger("azure").setLevel(logging.ERROR)  # AADSTS70021 while propagating is expected, and shown below
    knobs = faults.Faults(propagation_delay_s=PROPAGATION_S, provisioning_delay_s=PROVISIONING_S)
    with tempfile.TemporaryDirectory(prefix="wif-demo-") as tmp, Sandbox.start(Path(tmp), targets=0, faults=knobs) as sb:
        os.environ.update(sb.env)  # what local.settings.json / app settings give the function app
        from wif_core import manifests, model
        from wif_functions import instances
        from wif_sandbox import driver

        say("aks-argocd-wif demo: emulated Azure + AKS over HTTPS on 127.0.0.1")
        say(f"  ARM {sb.env['WIF_ARM_ENDPOINT']}   Entra {sb.env['AZURE_AUTHORITY_HOST']}")
        say(f"  hub (Argo CD): {sb.hub_id}")
        say(f"  admin kubeconfig: {sb.kubeconfig_path}")
        delivered: list[dict[str, Any]] = []
        sb.subscribe(delivered.append)
        durable = driver.LocalDurable()

        say("\n1. az aks create  (ARM PUT; Event Grid fires ResourceWriteSuccess while the cluster is Creating)")
        cluster_id = sb.create_cluster("aks-demo-1", "rg-apps", tags={"env": "demo"})
        sb.drain_events()
        ref = model.ClusterRef.parse(cluster_id)
        for evt in delivered:
            say(f"  event {evt['eventType']} for {evt['subject'].rsplit('/', 1)[-1]}")
            durable.deliver(evt)  # through function_app's on_cluster_event, as the host delivers it
        delivered.clear()
        iid = instances.instance_id(ref)
        inst = _run(durable, iid, f"\n2. orchestration {iid}: discover -> federate -> await_propagation -> "
                                  "register -> bind_rbac -> verify")
        if inst.status != "Completed":
            say(f"demo: registration did not complete: {inst.output}")
            return 1

        say("\n3. prove it the way Argo CD does (Secret -> SA token -> Entra -> target API server)")
        namespaces = argo.connect(sb, manifests.secret_name(ref), Path(tmp), report=say)
        say(f"  connected to {ref.name} as the Argo CD identity; namespaces: {', '.join(namespaces)}")
        _kubectl_secrets(sb)

        say("\n4. az aks delete  (Event Grid fires ResourceDeleteSuccess)")
        sb.delete_cluster(cluster_id)
        sb.drain_events()
        for evt in delivered:
            say(f"  event {evt['eventType']} for {evt['subject'].rsplit('/', 1)[-1]}")
            durable.deliver(evt)
        inst = _run(durable, iid, "  deregistration:")
        left = sb.kube(sb.hub_id).get_object("v1", "Secret", "argocd", manifests.secret_name(ref))
        say(f"  Secret argocd/{manifests.secret_name(ref)}: {'still there' if left else 'gone'}")
        if inst.status != "Completed" or left:
            return 1
        say("\ndemo: ok — registered, verified like Argo CD, and deregistered with no stored credential")
        return 0
