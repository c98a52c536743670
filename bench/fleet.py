"""Fleet: 200 cluster-creation events at once, through the function app, against a throttled sandbox.

The sandbox creates the clusters through ARM's PUT path, which publishes their
``ResourceWriteSuccess`` events; those (plus every 10th again, as Event Grid's
at-least-once delivery does) are shuffled and all handed to ``on_cluster_event``
(``LocalDurable.deliver``) before anything runs; then ``run_all(workers=W)`` runs the
orchestrations, W at a time, each activity with the real adapters over HTTPS.
Every sandbox call takes ``latency`` longer, and federated credential writes are
throttled per identity (``Faults.msi_write_rate_per_s``, Azure's ~0.25/s).

    lower bound = (steady * clusters + (first - steady)) * latency / W

``steady``/``first`` are the calls per cluster measured by ``bench.calls`` in the same
run; W is the activity concurrency the app allows (host.json
``maxConcurrentActivityFunctions``). Afterwards the sandbox is inspected: exactly one
Secret per cluster on the hub, exactly one binding or role assignment per cluster,
exactly two federated credentials on the identity; anything more is a duplicate.

The sandbox runs in a child process by default (``python -m bench.fleet serve``,
JSON lines on stdin/stdout), so that its TLS and handlers do not share the client's GIL.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from typing import IO, Any, Optional

import bench
from wif_sandbox.world import Sandbox

DUPLICATE_EVERY = 10
RBAC = "rbac.authorization.k8s.io/v1"


def host_concurrency() -> int:
    """host.json's ``maxConcurrentActivityFunctions``: the activities one worker runs at once."""
    host = json.loads((bench.ROOT / "host.json").read_text(encoding="utf-8"))
    return int(host["extensions"]["durableTask"]["maxConcurrentActivityFunctions"])


# ---- the sandbox side (in the child process, or in-process) -------------------------------

def create_fleet(sb: Sandbox, count: int) -> dict[str, Any]:
    """``count`` clusters, alternately Kubernetes RBAC and Azure RBAC; what the client needs to know."""
    write_kubeconfig = sb._write_kubeconfig  # rewritten whole on every create: O(n^2) for a fleet
    sb._write_kubeconfig = lambda: None  # type: ignore[method-assign]
    try:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            ids = list(pool.map(lambda i: sb.create_cluster(f"aks-fleet-{i:03d}", azure_rbac=i % 2 == 1), range(count)))
    finally:
        sb._write_kubeconfig = write_kubeconfig  # type: ignore[method-assign]
    wanted = {cid.lower() for cid in ids}
    events = [e for e in sb.published if str(e.get("subject", "")).lower() in wanted]
    return {"env": sb.env, "clusters": ids, "azure_rbac": ids[1::2], "events": events}


def state(sb: Sandbox, clusters: list[str], azure_rbac: list[str]) -> dict[str, Any]:
    """What exists now: our Secrets per cluster, bindings per cluster, the identity's credentials."""
    from wif_core import manifests

    secrets: Counter[str] = Counter()
    for s in sb.kube(sb.hub_id).list_objects("v1", "Secret", sb.env["WIF_ARGOCD_NAMESPACE"]):
        if manifests.is_ours(s):
            secrets[str(s["metadata"].get("annotations", {}).get(manifests.ANNOTATION_CLUSTER_ID, "")).lower()] += 1
    identity = sb.arm.identities.get(sb.identity_id)
    assert identity is not None
    principal, azure = identity.wi.principal_id.lower(), {c.lower() for c in azure_rbac}
    bindings: dict[str, int] = {}
    for cid in clusters:
        if cid.lower() in azure:
            bindings[cid.lower()] = sum(1 for a in sb.arm.roles.all()
                                        if a.scope.lower() == cid.lower() and a.principal_id.lower() == principal)
        else:
            bindings[cid.lower()] = sum(1 for b in sb.kube(cid).list_objects(RBAC, "ClusterRoleBinding")
                                        if manifests.is_ours(b))
    creds = identity.wi.snapshot()
    return {"secrets": dict(secrets), "bindings": bindings, "credentials": len(creds),
            "trusts": len({(c.issuer, c.subject) for c in creds})}


def handle(sb: Sandbox, fleet: dict[str, Any], cmd: dict[str, Any]) -> dict[str, Any]:
    op = cmd.get("op")
    if op == "knobs":
        for name, value in dict(cmd["set"]).items():
            if not hasattr(sb.faults, name) or name.startswith("_"):
                raise ValueError(f"no fault knob {name}")
            setattr(sb.faults, name, value)
        return {}
    if op == "reset":
        sb.log.reset()
        return {}
    if op == "size":
        return {"size": len(sb.log.entries())}
    if op == "log":
        return {"entries": [[e.service, e.operation, e.status, e.at] for e in sb.log.entries()]}
    if op == "state":
        return state(sb, fleet["clusters"], fleet["azure_rbac"])
    if op == "cpu":
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {"cpu": usage.ru_utime + usage.ru_stime}
    raise ValueError(f"unknown op {op!r}")


def serve(count: int, out: IO[str], commands: IO[str]) -> None:
    """The child: first line the fleet, then one JSON answer per JSON command, until stdin closes."""
    with Sandbox.start(targets=0) as sb:
        fleet = create_fleet(sb, count)
        out.write(json.dumps(fleet) + "\n")
        out.flush()
        for line in commands:
            out.write(json.dumps(handle(sb, fleet, json.loads(line))) + "\n")
            out.flush()


# ---- the client side ------------------------------------------------------------------------

class Remote:
    """The sandbox in a child process."""

    def __init__(self, count: int) -> None:
        self.errors = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.fleet", "serve", "--clusters", str(count)],
                                     cwd=bench.ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors,
                                     text=True)
        self.fleet: dict[str, Any] = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.errors.seek(0)
            raise RuntimeError(f"the sandbox process ended: {self.errors.read()[-2000:]}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def ask(self, op: str, **args: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.errors.close()


class Inline:
    """The sandbox in this process (sharing the GIL with the client)."""

    def __init__(self, count: int) -> None:
        self.sb = Sandbox.start(targets=0)
        self.fleet = create_fleet(self.sb, count)

    def ask(self, op: str, **args: Any) -> dict[str, Any]:
        return {} if op == "cpu" else handle(self.sb, self.fleet, {"op": op, **args})

    def close(self) -> None:
        self.sb.stop()


def events(fleet: dict[str, Any], seed: int = 6) -> list[dict[str, Any]]:
    published = list(fleet["events"])
    batch = published + published[::DUPLICATE_EVERY]
    random.Random(seed).shuffle(batch)
    return batch


def _settle(box: Any) -> None:
    bench.settle(lambda: int(box.ask("size")["size"]))


def judge(fleet: dict[str, Any], seen: dict[str, Any], instances: list[Any]) -> dict[str, int]:
    clusters = [c.lower() for c in fleet["clusters"]]
    failed = {c for c in clusters if seen["secrets"].get(c, 0) == 0 or seen["bindings"].get(c, 0) == 0}
    failed |= {str(json.loads(i.input or "{}").get("cluster", i.instance_id)).lower()
               for i in instances if i.status != "Completed"}
    extra = sum(max(0, n - 1) for n in seen["secrets"].values()) + sum(max(0, n - 1) for n in seen["bindings"].values())
    extra += sum(n for c, n in seen["secrets"].items() if c not in set(clusters))
    extra += max(0, int(seen["credentials"]) - 2)
    return {"fleet_failed": len(failed), "fleet_duplicates": extra}


@dataclass
class Drive:
    """One fleet run, as measured."""

    batch: list[dict[str, Any]]
    instances: list[Any]
    seconds: float
    started: float
    client_cpu_s: float
    sandbox_cpu_s: Optional[float]
    log: list[list[Any]]
    seen: dict[str, Any]


def drive(box: Any, *, workers: int, latency_s: float, msi_rate_per_s: float, msi_burst: float = 1.0) -> Drive:
    """Deliver every event at once, run every orchestration ``workers`` at a time, inspect the sandbox."""
    from wif_functions import activities
    from wif_sandbox import driver

    with bench.environment(box.fleet["env"]):
        activities.use(None)  # the real adapters, wired from the environment by the first activity
        host = driver.LocalDurable()
        batch = events(box.fleet)
        box.ask("knobs", set={"latency_s": latency_s, "msi_write_rate_per_s": msi_rate_per_s,
                              "msi_write_burst": msi_burst})
        _settle(box)
        box.ask("reset")
        sandbox_cpu, client_cpu, started = box.ask("cpu").get("cpu"), time.process_time(), time.time()
        for event in batch:
            host.deliver(event)
        done = host.run_all(workers=workers)
        seconds, client_cpu = time.time() - started, time.process_time() - client_cpu
        _settle(box)
        sandbox_end = box.ask("cpu").get("cpu")
        used = sandbox_end - sandbox_cpu if sandbox_cpu is not None and sandbox_end is not None else None
        return Drive(batch, done, seconds, started, client_cpu, used, box.ask("log")["entries"], box.ask("state"))


def run(clusters: int = 200, *, steady: int, first: int, workers: Optional[int] = None, latency_s: float = 0.05,
        msi_rate_per_s: float = 0.25, msi_burst: float = 1.0, mode: str = "process") -> dict[str, object]:
    given = workers
    workers = workers or host_concurrency()
    box: Any = Remote(clusters) if mode == "process" else Inline(clusters)
    try:
        d = drive(box, workers=workers, latency_s=latency_s, msi_rate_per_s=msi_rate_per_s, msi_burst=msi_burst)
    finally:
        box.close()
    must = steady * clusters + (first - steady)
    bound = must * latency_s / workers
    writes = [at for service, op, status, at in d.log if op == "federatedIdentityCredentials.put" and status < 300]
    # Two credentials, one write token in the bucket: the second waits (2 - burst) / rate, whoever writes it.
    floor = max(0.0, 2 - msi_burst) / msi_rate_per_s if msi_rate_per_s > 0 else 0.0
    out: dict[str, object] = {
        "fleet_clusters": clusters, "fleet_events": len(d.batch), "fleet_workers": workers,
        "fleet_workers_from": "--workers" if given else "host.json maxConcurrentActivityFunctions", "fleet_sandbox": mode,
        **judge(box.fleet, d.seen, d.instances),
        "fleet_seconds": round(d.seconds, 2), "fleet_lower_bound_seconds": round(bound, 2),
        "fleet_ratio_to_bound": round(d.seconds / bound, 3) if bound > 0 else None,
        "fleet_calls": len(d.log), "fleet_calls_must": must,
        "fleet_throttled": sum(1 for entry in d.log if entry[2] == 429), "fleet_credential_writes": len(writes),
        "fleet_federated_s": round(max(writes) - d.started, 2) if writes else None,
        "fleet_throttle_floor_s": floor,
        "fleet_ratio_to_bound_plus_floor": round(d.seconds / (bound + floor), 3) if bound + floor > 0 else None,
        "fleet_credentials": d.seen["credentials"],
        "fleet_client_cpu_s": round(d.client_cpu_s, 2), "fleet_latency_s": latency_s,
        "fleet_msi_write_rate_per_s": msi_rate_per_s, "fleet_msi_write_burst": msi_burst,
    }
    if d.sandbox_cpu_s is not None:
        out["fleet_sandbox_cpu_s"] = round(d.sandbox_cpu_s, 2)
    return out


def repeat(runs: int, clusters: int = 200, **kwargs: Any) -> dict[str, object]:
    """``run`` ``runs`` times, each on a fresh sandbox: the median run (by seconds), judged strictly.

    One run on a shared machine can be lucky or unlucky by ±0.5 s; the median of three is what
    the fleet typically does. A failure or a duplicate in any run counts.
    """
    done = [run(clusters, **kwargs) for _ in range(max(1, runs))]
    seconds = [float(str(d["fleet_seconds"])) for d in done]
    median = done[sorted(range(len(done)), key=lambda i: seconds[i])[len(done) // 2]]
    return {**median, "fleet_runs": len(done),
            "fleet_failed": max(int(str(d["fleet_failed"])) for d in done),
            "fleet_duplicates": max(int(str(d["fleet_duplicates"])) for d in done),
            "fleet_seconds_each": seconds,
            "fleet_ratio_each": [d["fleet_ratio_to_bound"] for d in done]}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet")
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--clusters", type=int, default=200)
    args = parser.parse_args(argv)
    serve(args.clusters, sys.stdout, sys.stdin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
