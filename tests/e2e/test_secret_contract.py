"""The Secret's contract on the sandbox, judged as Argo CD and as an operator with kubectl (issue 16).

* the env: the product leaves the token path and authority to the workload-identity webhook, so
  Argo CD connects whichever path the webhook mounts (before and since v1.6.0); a Secret that
  pins the path is what breaks on a current webhook while onboarding still says "created";
* merge, never replace: what people add with kubectl survives re-registration;
* names: two clusters called alike are two clusters in Argo CD; one cluster, however its
  events spell its id, is one Secret recorded with ARM's canonical id.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration import wired
from wif_core import cli, manifests, model, runner
from wif_sandbox import argo, webhook
from wif_sandbox.world import Sandbox, TargetSpec

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


def onboard(w: wired.Wired, cluster_id: str) -> runner.Report:
    r = runner.Runner(w.ports, w.settings, sleep=wired.fast_sleep())
    report = r.onboard(model.ClusterRef.parse(cluster_id))
    assert report.ok, report.error
    return report


def kubectl(sb: Sandbox, *args: str) -> str:
    proc = subprocess.run(["kubectl", "--kubeconfig", str(sb.kubeconfig_path), "--context", sb.cluster(sb.hub_id).name,
                           *args], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("path", [webhook.NEW_TOKEN_FILE, webhook.OLD_TOKEN_FILE], ids=["since-v1.6.0", "before"])
def test_argo_connects_whichever_path_the_webhook_mounts(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path, path: str) -> None:
    sandbox.faults.webhook_token_file = path
    w = wired.wire(sandbox, monkeypatch)
    onboard(w, sandbox.target_ids[0])
    name = manifests.secret_name(model.ClusterRef.parse(sandbox.target_ids[0]))
    _, cfg = argo.read_secret(sandbox, name)
    assert set(cfg["execProviderConfig"]["env"]) == {"AAD_LOGIN_METHOD", "AZURE_CLIENT_ID"}
    assert "kube-system" in argo.connect(sandbox, name, tmp_path)


def test_a_secret_pinning_the_old_path_breaks_argo_on_a_current_webhook(sandbox: Sandbox, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.faults.webhook_token_file = webhook.NEW_TOKEN_FILE
    w = wired.wire(sandbox, monkeypatch, env={"WIF_FEDERATED_TOKEN_FILE": webhook.OLD_TOKEN_FILE})
    report = onboard(w, sandbox.target_ids[0])  # onboarding itself cannot tell: its own proof is not Argo CD's pod
    assert report.results["register"].action == "created"  # type: ignore[attr-defined]
    name = manifests.secret_name(model.ClusterRef.parse(sandbox.target_ids[0]))
    with pytest.raises(argo.ExecPluginError, match="azure-identity-token"):
        argo.connect(sandbox, name, tmp_path)
    # Back to the default (no override): the next onboarding corrects the Secret, and Argo CD connects.
    w = wired.wire(sandbox, monkeypatch, env={"WIF_FEDERATED_TOKEN_FILE": ""})
    assert onboard(w, sandbox.target_ids[0]).results["register"].action == "updated"  # type: ignore[attr-defined]
    assert "kube-system" in argo.connect(sandbox, name, tmp_path)


@needs_kubectl
def test_what_people_add_with_kubectl_survives_re_registration(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    w = wired.wire(sandbox, monkeypatch, env={"WIF_LABEL_TAGS": "env"})
    onboard(w, sandbox.target_ids[0])
    name = manifests.secret_name(model.ClusterRef.parse(sandbox.target_ids[0]))
    kubectl(sandbox, "-n", "argocd", "label", "secret", name, "team=payments")
    kubectl(sandbox, "-n", "argocd", "annotate", "secret", name, "example.com/owner=payments")
    kubectl(sandbox, "-n", "argocd", "patch", "secret", name, "--type=merge",
            "-p", json.dumps({"stringData": {"project": "payments", "namespaces": "shop,cart", "shard": "1"}}))
    sandbox.cluster(sandbox.target_ids[0]).tags["env"] = "prod"  # a change of ours to write: the env label
    w = wired.wire(sandbox, monkeypatch, env={"WIF_LABEL_TAGS": "env"})
    assert onboard(w, sandbox.target_ids[0]).results["register"].action == "updated"  # type: ignore[attr-defined]
    got: dict[str, Any] = json.loads(kubectl(sandbox, "-n", "argocd", "get", "secret", name, "-o", "json"))
    labels, data = got["metadata"]["labels"], got["data"]
    assert labels["team"] == "payments" and labels[manifests.TAG_LABEL_PREFIX + "env"] == "prod"
    assert got["metadata"]["annotations"]["example.com/owner"] == "payments"
    assert {"project", "namespaces", "shard", "name", "server", "config"} <= set(data)
    assert "kube-system" in argo.connect(sandbox, name, tmp_path)


def test_two_clusters_of_one_name_are_two_clusters_in_argo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    specs = [TargetSpec("prod", "rg-a"), TargetSpec("prod", "rg-b")]
    with Sandbox.start(tmp_path / "sb", targets=specs) as sb:
        w = wired.wire(sb, monkeypatch)
        names = []
        for cluster_id in sb.target_ids:
            onboard(w, cluster_id)
            data, _ = argo.read_secret(sb, manifests.secret_name(model.ClusterRef.parse(cluster_id)))
            names.append(data["name"])
        assert len(set(names)) == 2 and all(n.startswith("prod-") for n in names), names


def test_one_cluster_is_one_secret_whatever_the_casing_of_its_events(sandbox: Sandbox,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from wif_sandbox import events

    canonical = sandbox.create_cluster("Aks-Mixed", "RG-Mixed")
    w = wired.wire(sandbox, monkeypatch)
    for casing in ("lower", "mixed", "canonical"):
        onboard(w, events.recase(canonical, casing))
    hub = sandbox.kube(sandbox.hub_id)
    ours = [s for s in hub.list_objects("v1", "Secret", "argocd") if manifests.is_ours(s)]
    assert len(ours) == 1
    assert ours[0]["metadata"]["annotations"][manifests.ANNOTATION_CLUSTER_ID] == canonical
    assert ours[0]["metadata"]["labels"][manifests.LABEL_PREFIX + "resource-group"] == "RG-Mixed"


def test_onboarding_the_hub_exits_0_skipped_and_writes_nothing(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    w = wired.wire(sandbox, monkeypatch)
    wired.settle(sandbox)
    before = len(sandbox.log.entries())
    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("w") as o, err.open("w") as e:
        code = cli.main(["onboard", "--cluster", sandbox.hub_id], ports_factory=lambda s: w.ports, stdout=o, stderr=e)
    assert code == 0, err.read_text()
    assert any(line.startswith("skipped: ") and "hub" in line for line in err.read_text().splitlines()), err.read_text()
    wired.settle(sandbox)
    assert [x.key for x in sandbox.log.entries()[before:] if wired.stored(x)] == []


def test_a_hand_made_credential_without_the_slash_is_not_taken_for_ours(sandbox: Sandbox,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    w = wired.wire(sandbox, monkeypatch)
    hub = w.ports.clusters.get_cluster(model.ClusterRef.parse(sandbox.hub_id))
    assert hub.oidc_issuer and hub.oidc_issuer.endswith("/")  # as AKS issuers do
    for i, subject in enumerate(w.settings.subjects()):
        w.ports.identities.put_credential(w.settings.identity, model.FederatedCredential(
            f"by-hand-{i}", hub.oidc_issuer.rstrip("/"), subject))
    report = onboard(w, sandbox.target_ids[0])
    federated = report.results["federate"]
    assert len(federated.created) == 2  # type: ignore[attr-defined]
    assert sum("only by the trailing slash" in note for note in federated.notes) == 2  # type: ignore[attr-defined]


def test_propagation_that_never_ends_fails_with_the_diagnosis(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.faults.propagation_delay_s = 3600.0
    w = wired.wire(sandbox, monkeypatch, env={"WIF_PROPAGATION_TIMEOUT_SECONDS": "2"})
    r = runner.Runner(w.ports, w.settings, sleep=wired.fast_sleep())
    report = r.onboard(model.ClusterRef.parse(sandbox.target_ids[0]))
    assert not report.ok and report.failed_step == "await_propagation"
    hub = w.ports.clusters.get_cluster(model.ClusterRef.parse(sandbox.hub_id))
    assert "gave up after 2s" in report.error and "AADSTS70021" in report.error
    assert f"the assertion carried issuer {hub.oidc_issuer!r}" in report.error  # read from the token itself
    assert "still propagating" in report.error and "rolled back" in report.error
    assert [s for s in sandbox.kube(sandbox.hub_id).list_objects("v1", "Secret", "argocd") if manifests.is_ours(s)] == []
