"""The seeds' runbook commands with the real Azure CLI against the sandbox, after the product ran.

``az`` is found as ``$WIF_AZ``, ``.venv-az/bin/az`` (``.ci/run`` installs it) or on PATH; without it the
test skips. Set up as the README says: a custom cloud from the sandbox's ARM endpoint
alone (``/metadata/endpoints``), ``core.instance_discovery=false``, the sandbox CA in
``REQUESTS_CA_BUNDLE``, its own ``AZURE_CONFIG_DIR``. What ``az`` shows is compared with
what the product recorded (issuer, client id, federated credentials, role assignment,
server and CA); the summary line counts the commands that behaved like Azure.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import yaml

from tests.integration import wired
from wif_core import model, runner
from wif_sandbox import argo
from wif_sandbox.arm.roles import AKS_RBAC_READER
from wif_sandbox.world import Sandbox, TargetSpec

ROOT = Path(__file__).resolve().parents[2]
RG, TARGET = "rg-apps", "aks-target-1"


def az_path() -> str | None:
    given = os.environ.get("WIF_AZ")
    local = ROOT / ".venv-az" / "bin" / "az"
    return given or (str(local) if local.exists() else shutil.which("az"))


pytestmark = pytest.mark.skipif(az_path() is None, reason="azure-cli not installed: `python3 -m venv .venv-az && "
                                ".venv-az/bin/pip install azure-cli` (.ci/run does), or set WIF_AZ")


class Az:
    """Runs ``az`` in its own config dir; records (command, ok) for the summary line."""

    def __init__(self, sb: Sandbox, config_dir: Path) -> None:
        self.env = {**os.environ, "AZURE_CONFIG_DIR": str(config_dir), "REQUESTS_CA_BUNDLE": str(sb.ca_bundle),
                    "AZURE_CORE_COLLECT_TELEMETRY": "false", "AZURE_CORE_ONLY_SHOW_ERRORS": "true",
                    "AZURE_CORE_NO_COLOR": "true"}
        self.results: list[tuple[str, bool, str]] = []

    def run(self, *args: str, check: Callable[[str], bool] = lambda _: True) -> str:
        done = subprocess.run([str(az_path()), *args], env=self.env, capture_output=True, text=True, timeout=120)
        ok = done.returncode == 0 and check(done.stdout)
        self.results.append((" ".join(args[:3]), ok, done.stderr.strip()[-400:]))
        return done.stdout

    def json(self, *args: str, check: Callable[[Any], bool] = lambda _: True) -> Any:
        out = self.run(*args, "-o", "json", check=lambda text: bool(text.strip()) and check(json.loads(text)))
        return json.loads(out) if out.strip() else None


@pytest.fixture(scope="module")
def onboarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, wired.Wired, model.ClusterRef]]:
    """A sandbox whose first target the product registered (Kubernetes RBAC) and the second (Azure RBAC)."""
    targets = [TargetSpec(TARGET), TargetSpec("aks-target-2", azure_rbac=True)]
    with Sandbox.start(tmp_path_factory.mktemp("sb"), targets=targets) as sb, pytest.MonkeyPatch.context() as mp:
        w = wired.wire(sb, mp)
        for cluster_id in sb.target_ids:
            report = runner.Runner(w.ports, w.settings, sleep=wired.fast_sleep()).onboard(model.ClusterRef.parse(cluster_id))
            assert report.ok, report.error
        yield sb, w, model.ClusterRef.parse(sb.target_ids[0])


def test_runbook_commands_behave_like_azure(onboarded: tuple[Sandbox, wired.Wired, model.ClusterRef],
                                            tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sb, w, ref = onboarded
    az = Az(sb, tmp_path / "az")
    started = time.monotonic()
    _set_up_and_login(az, sb)
    _clusters(az, sb, w, ref)
    _identities(az, sb, w)
    _roles(az, sb)
    _federated_login(az, sb, w)
    passed = sum(ok for _, ok, _ in az.results)
    with capsys.disabled():
        print(f"\naz: {passed}/{len(az.results)} az commands behave like Azure ({time.monotonic() - started:.0f} s)")
    failed = [f"az {cmd}: {err}" for cmd, ok, err in az.results if not ok]
    assert not failed, "\n".join(failed)


def _set_up_and_login(az: Az, sb: Sandbox) -> None:
    env = sb.operator_env  # the runbooks are an admin's: Owner (the function app has infra's rights only)
    az.run("config", "set", "core.instance_discovery=false")
    az.run("cloud", "register", "-n", "WifSandbox", "--endpoint-resource-manager", sb.arm_url)
    az.run("cloud", "set", "-n", "WifSandbox")
    subs = az.json("login", "--service-principal", "-u", env["AZURE_CLIENT_ID"], "-p", env["AZURE_CLIENT_SECRET"],
                   "--tenant", sb.tenant_id)
    assert {s["id"] for s in subs} == set(sb.subscription_ids)
    az.json("account", "show", check=lambda a: a["id"] == sb.subscription_id and a["tenantId"] == sb.tenant_id)
    groups = az.json("group", "list")
    assert {"rg-apps", "rg-hub", "rg-argocd"} <= {g["name"] for g in groups}
    az.json("group", "show", "-n", "RG-APPS", check=lambda g: g["name"] == RG and g["location"] == "westeurope")


def _clusters(az: Az, sb: Sandbox, w: wired.Wired, ref: model.ClusterRef) -> None:
    recorded = w.ports.clusters.get_cluster(ref)
    hub_issuer = sb.plane(sb.hub_id).issuer
    az.run("aks", "show", "-g", "rg-hub", "-n", "aks-hub", "--query", "oidcIssuerProfile.issuerUrl", "-o", "tsv",
           check=lambda out: out.strip() == hub_issuer)
    az.run("aks", "update", "-g", RG, "-n", TARGET, "--enable-oidc-issuer", "--enable-workload-identity", "-o", "none")
    az.run("aks", "show", "-g", RG, "-n", TARGET, "--query", "securityProfile.workloadIdentity.enabled", "-o", "tsv",
           check=lambda out: out.strip() == "true")
    kubeconfig = yaml.safe_load(az.run("aks", "get-credentials", "-g", RG, "-n", TARGET, "--file", "-"))
    cluster = kubeconfig["clusters"][0]["cluster"]
    assert cluster["server"] == recorded.server
    assert cluster["certificate-authority-data"] == recorded.ca_data
    assert base64.b64decode(cluster["certificate-authority-data"]) == sb.ca_bundle.read_bytes()
    az.run("aks", "command", "invoke", "-g", RG, "-n", TARGET, "--command", "kubectl get clusterrolebindings",
           check=lambda out: "exitcode=0" in out)


def _identities(az: Az, sb: Sandbox, w: wired.Wired) -> None:
    identity = w.ports.identities.get_identity(w.settings.identity)
    group, name = sb.identity_id.split("/")[4], sb.identity_id.split("/")[-1]
    az.run("identity", "show", "-g", group, "-n", name, "--query", "clientId", "-o", "tsv",
           check=lambda out: out.strip() == identity.client_id)
    creds = az.json("identity", "federated-credential", "list", "--identity-name", name, "-g", group)
    hub_issuer = sb.plane(sb.hub_id).issuer
    assert {(c["issuer"], c["subject"]) for c in creds} == {
        (hub_issuer, "system:serviceaccount:argocd:argocd-application-controller"),
        (hub_issuer, "system:serviceaccount:argocd:argocd-server")}
    made = az.json("identity", "create", "-g", RG, "-n", "astronetes-azure-agent",
                   check=lambda i: i["location"] == "westeurope")  # the group's location: no --location given
    az.json("identity", "list", "-g", RG, check=lambda ids: [i["name"] for i in ids] == ["astronetes-azure-agent"])
    fic = ("--identity-name", "astronetes-azure-agent", "-g", RG)
    az.json("identity", "federated-credential", "create", "--name", "astronetes-federated-credential", *fic,
            "--issuer", hub_issuer, "--subject", "system:serviceaccount:resiliency-system:agent",
            check=lambda c: c["audiences"] == ["api://AzureADTokenExchange"])
    az.json("identity", "federated-credential", "show", "--name", "astronetes-federated-credential", *fic,
            check=lambda c: c["issuer"] == hub_issuer)
    az.run("identity", "federated-credential", "delete", "--name", "astronetes-federated-credential", *fic, "--yes")
    az.json("identity", "federated-credential", "list", *fic, check=lambda cs: cs == [])
    az.json("role", "assignment", "create", "--assignee", made["principalId"], "--role", "Reader",
            "--scope", f"/subscriptions/{sb.subscription_id}", check=lambda a: a["principalType"] == "ServicePrincipal")


def _roles(az: Az, sb: Sandbox) -> None:
    azure_rbac = sb.target_ids[1]
    recorded = [a for a in sb.arm.roles.all() if a.scope.lower() == azure_rbac.lower()]
    listed = az.json("role", "assignment", "list", "--scope", azure_rbac)
    assert {(a["principalId"], a["roleDefinitionName"]) for a in listed} == \
        {(a.principal_id, "Azure Kubernetes Service RBAC Cluster Admin") for a in recorded}
    az.json("role", "assignment", "create", "--assignee-object-id", sb.function_principal_id,
            "--assignee-principal-type", "ServicePrincipal", "--role", "Azure Kubernetes Service RBAC Reader",
            "--scope", azure_rbac, check=lambda a: a["roleDefinitionId"].endswith(AKS_RBAC_READER))
    az.json("role", "assignment", "list", "--scope", azure_rbac, "--assignee", sb.function_principal_id,
            check=lambda found: [a["roleDefinitionName"] for a in found] == ["Azure Kubernetes Service RBAC Reader"])


def _federated_login(az: Az, sb: Sandbox, w: wired.Wired) -> None:
    """Seed 000/001's identity as Argo CD uses it: a service-account token of the hub, exchanged at Entra."""
    client_id = w.ports.identities.get_identity(w.settings.identity).client_id
    token = argo.projected_token(sb)  # given to az as an argument, never printed (results keep 3 words)
    az.json("login", "--service-principal", "-u", client_id, "--federated-token", token, "--tenant", sb.tenant_id,
            check=lambda subs: {s["id"] for s in subs} == set(sb.subscription_ids))
    az.json("account", "show", check=lambda a: a["user"] == {"name": client_id, "type": "servicePrincipal"})
