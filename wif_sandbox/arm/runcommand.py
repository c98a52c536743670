"""AKS run command as the long-running operation ``begin_run_command`` polls.

``POST .../runCommand`` answers 202 with ``Location: .../commandResults/{id}``;
that URL answers 202 while the command runs (``Faults.run_command_delay_s``),
then 200 with ``properties.provisioningState/exitCode/logs``. Files come as
``context``: a base64 zip, as ``az aks command invoke --file`` sends them. On an
Entra cluster the command runs as the caller (``clusterToken``), otherwise as
the cluster admin.
"""
from __future__ import annotations

import base64
import binascii
import io
import threading
import uuid
import zipfile
from dataclasses import dataclass
from typing import Any, Callable

from wif_sandbox import faults, wire
from wif_sandbox.arm import base, kubectl_verbs
from wif_sandbox.arm.base import ArmError, Call
from wif_sandbox.arm.clusters import ManagedCluster
from wif_sandbox.arm.kubectl import Kubectl

ADMIN = wire.ClientCert("sandbox-runcommand", ("system:masters",))


@dataclass
class CommandRun:
    id: str
    cluster_id: str
    done_at: float
    started: str
    exit_code: int
    logs: str

    def json(self, done: bool) -> dict[str, Any]:
        props: dict[str, Any] = {"provisioningState": "Succeeded" if done else "Running", "startedAt": self.started}
        if done:
            props.update(exitCode=self.exit_code, finishedAt=base.now_iso(), logs=self.logs, reason="")
        return {"id": self.id, "properties": props}


def unzip_context(context: str) -> dict[str, bytes]:
    if not context:
        return {}
    try:
        with zipfile.ZipFile(io.BytesIO(base64.b64decode(context))) as archive:
            return {name: archive.read(name) for name in archive.namelist() if not name.endswith("/")}
    except (binascii.Error, zipfile.BadZipFile, ValueError) as e:
        raise ArmError(400, "InvalidParameter", "The context of the run command is not a base64 encoded zip file.") from e


def execute(handler: wire.Handler, command: str, files: dict[str, bytes], cluster_token: str = "") -> tuple[int, str]:
    """Run a command line against an API server handler, as run command's pod would."""

    def authorize(req: wire.Request) -> wire.Request:
        if cluster_token:
            req.headers = {**req.headers, "authorization": f"Bearer {cluster_token}"}
        else:
            req.client_cert = ADMIN
        return req

    return kubectl_verbs.run(Kubectl(handler, authorize), command, files)


class RunCommands:
    def __init__(self, knobs: faults.Faults, clock: Callable[[], float]) -> None:
        self._knobs, self._clock = knobs, clock
        self._runs: dict[str, CommandRun] = {}
        self._lock = threading.Lock()

    def start(self, call: Call, cluster: ManagedCluster) -> wire.Response:
        if cluster.plane is None or cluster.state(self._clock()) != "Succeeded":
            raise ArmError(409, "OperationNotAllowed", f"Run command is not allowed: the cluster '{cluster.name}' is in "
                           f"provisioning state '{cluster.state(self._clock())}'.")
        body = call.body()
        command = str(body.get("command") or "")
        if not command:
            raise ArmError(400, "InvalidParameter", "The value of parameter command is invalid: it must not be empty.")
        files = unzip_context(str(body.get("context") or ""))
        exit_code, logs = execute(cluster.plane.handler, command, files, str(body.get("clusterToken") or ""))
        run = CommandRun(uuid.uuid4().hex, cluster.id, self._clock() + self._knobs.run_command_delay_s,
                         base.now_iso(), exit_code, logs)
        with self._lock:
            self._runs[run.id] = run
        location = call.url(f"{cluster.id}/commandResults/{run.id}")
        return base.respond(202, None, call.operation, {"Location": location})

    def result(self, call: Call, cluster: ManagedCluster, run_id: str) -> wire.Response:
        with self._lock:
            run = self._runs.get(run_id)
        if run is None or run.cluster_id.lower() != cluster.id.lower():
            raise ArmError(404, "NotFound", f"Command result '{run_id}' was not found.")
        done = self._clock() >= run.done_at
        if not done:
            location = call.url(f"{cluster.id}/commandResults/{run.id}")
            return base.respond(202, run.json(False), call.operation, {"Location": location})
        return base.respond(200, run.json(True), call.operation)
