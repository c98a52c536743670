"""The azd hooks, run for real under POSIX sh against a fake `az` on PATH.

postdeploy.sh is stage 2 of `azd up`: it must wait for the Event Grid function,
deploy infra/eventgrid.bicep with the main.bicep outputs, and leave fully
rendered hub manifests behind. predown.sh must only touch what the function
identity holds. The fake records its arguments; nothing reaches Azure.
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HOOKS = ROOT / "infra" / "hooks"
SH = shutil.which("dash") or shutil.which("sh")

SUB = "/subscriptions/00000000-0000-0000-0000-000000000000"
ENV = {
    "AZURE_ENV_NAME": "dev",
    "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
    "AZURE_RESOURCE_GROUP": "rg-dev",
    "AZURE_FUNCTION_APP_NAME": "func-wif-abc",
    "AZURE_FUNCTION_APP_ID": f"{SUB}/resourceGroups/rg-dev/providers/Microsoft.Web/sites/func-wif-abc",
    "EVENTGRID_SYSTEM_TOPIC_NAME": "evgt-wif-abc",
    "EVENTGRID_SYSTEM_TOPIC_RESOURCE_GROUP": "rg-dev",
    "DEADLETTER_STORAGE_ACCOUNT_ID": f"{SUB}/resourceGroups/rg-dev/providers/Microsoft.Storage/storageAccounts/stwifabc",
    "DEADLETTER_CONTAINER_NAME": "eventgrid-deadletter",
    "FUNCTION_PRINCIPAL_ID": "11111111-1111-1111-1111-111111111111",
    "ARGOCD_IDENTITY_CLIENT_ID": "22222222-2222-2222-2222-222222222222",
    "AZURE_TENANT_ID": "33333333-3333-3333-3333-333333333333",
    "ARGOCD_NAMESPACE": "gitops",
    "RUN_COMMAND_ROLE_ID": f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/44444444-4444-4444-4444-444444444444",
    "ARGOCD_IDENTITY_ID": f"{SUB}/resourceGroups/rg-ids/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-argocd",
    "FEDERATION_ROLE_ID": f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/55555555-5555-5555-5555-555555555555",
}

FAKE_AZ = """#!/bin/sh
echo "$*" >> "$AZ_LOG"
case "$*" in
  "functionapp function show"*)
    n=$(cat "$AZ_STATE" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$AZ_STATE"
    [ "$n" -ge "${AZ_INDEXED_AFTER:-1}" ] || exit 3 ;;
  "role assignment list"*) printf '%s\\n' /subscriptions/x/providers/Microsoft.Authorization/roleAssignments/a1 ;;
esac
exit 0
"""

pytestmark = pytest.mark.skipif(SH is None, reason="no POSIX shell")


def run(script: str, tmp_path: Path, **extra: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    az = bin_dir / "az"
    az.write_text(FAKE_AZ)
    az.chmod(az.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "az.log"
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "AZ_LOG": str(log),
           "AZ_STATE": str(tmp_path / "az.state"), **ENV, **extra}
    work = tmp_path / "project"
    work.mkdir(exist_ok=True)
    done = subprocess.run([str(SH), str(HOOKS / script)], cwd=work, env=env, capture_output=True, text=True, timeout=60)
    calls = log.read_text().splitlines() if log.exists() else []
    return done, calls


def test_postdeploy_deploys_stage_two_and_renders_the_manifests(tmp_path: Path) -> None:
    done, calls = run("postdeploy.sh", tmp_path)
    assert done.returncode == 0, done.stderr
    assert calls[0].startswith("functionapp function show --resource-group rg-dev --name func-wif-abc "
                               "--function-name on_cluster_event")
    (deploy,) = [c for c in calls if c.startswith("deployment group create")]
    assert f"--template-file {ROOT / 'infra' / 'eventgrid.bicep'}" in deploy
    assert "--resource-group rg-dev" in deploy
    for param in ("systemTopicName=evgt-wif-abc", f"functionAppId={ENV['AZURE_FUNCTION_APP_ID']}",
                  "functionName=on_cluster_event", f"deadLetterStorageAccountId={ENV['DEADLETTER_STORAGE_ACCOUNT_ID']}",
                  "deadLetterContainerName=eventgrid-deadletter"):
        assert param in deploy
    out = tmp_path / "project" / ".azure" / "dev"
    rbac = (out / "hub-rbac.yaml").read_text()
    values = (out / "argocd-values-wif.yaml").read_text()
    assert "${" not in rbac and "${" not in values, "a placeholder was left unrendered"
    role, binding = yaml.safe_load_all(rbac)
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == "gitops"
    assert binding["subjects"][0]["name"] == ENV["FUNCTION_PRINCIPAL_ID"]
    annotations = yaml.safe_load(values)["server"]["serviceAccount"]["annotations"]
    assert annotations["azure.workload.identity/client-id"] == ENV["ARGOCD_IDENTITY_CLIENT_ID"]
    assert annotations["azure.workload.identity/tenant-id"] == ENV["AZURE_TENANT_ID"]


def test_postdeploy_stops_before_stage_two_when_the_function_never_appears(tmp_path: Path) -> None:
    done, calls = run("postdeploy.sh", tmp_path, AZ_INDEXED_AFTER="99", WIF_INDEX_TIMEOUT_SECONDS="0")
    assert done.returncode != 0
    assert "did not appear" in done.stderr
    assert not any(c.startswith("deployment group create") for c in calls)


def test_postdeploy_names_a_missing_output(tmp_path: Path) -> None:
    done, calls = run("postdeploy.sh", tmp_path, AZURE_FUNCTION_APP_ID="")
    assert done.returncode != 0
    assert "AZURE_FUNCTION_APP_ID is not set" in done.stderr
    assert calls == []


def test_predown_removes_only_the_function_identitys_assignments_and_the_custom_roles(tmp_path: Path) -> None:
    done, calls = run("predown.sh", tmp_path)
    assert done.returncode == 0, done.stderr
    assert calls[0] == f"role assignment list --assignee {ENV['FUNCTION_PRINCIPAL_ID']} --all --query [].id --output tsv"
    assignment = "/subscriptions/x/providers/Microsoft.Authorization/roleAssignments/a1"
    assert f"role assignment delete --ids {assignment} --output none" in calls
    assert f"role definition delete --name 44444444-4444-4444-4444-444444444444 --scope {SUB} --output none" in calls
    # The federated-credential role is assignable only in the Argo CD identity's resource group,
    # so az must look for it there; and only after the assignments that use it are gone.
    federation = ("role definition delete --name 55555555-5555-5555-5555-555555555555 "
                  f"--scope {SUB}/resourceGroups/rg-ids --output none")
    assert federation in calls
    assert calls.index(federation) > calls.index(f"role assignment delete --ids {assignment} --output none")
    assert len(calls) == 4


def test_predown_skips_a_custom_role_it_has_no_id_for(tmp_path: Path) -> None:
    done, calls = run("predown.sh", tmp_path, RUN_COMMAND_ROLE_ID="", FEDERATION_ROLE_ID="")
    assert done.returncode == 0, done.stderr
    assert not any(c.startswith("role definition delete") for c in calls)


def test_predown_without_a_deployment_does_nothing(tmp_path: Path) -> None:
    done, calls = run("predown.sh", tmp_path, FUNCTION_PRINCIPAL_ID="")
    assert done.returncode == 0
    assert calls == []
