"""``python -m wif_core``: the event contract in a subprocess, the other commands on the fake world."""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import pytest
import yaml

from tests import fakes
from wif_core import cli, errors, events, manifests

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "events"
ENV = {"WIF_HUB_CLUSTER_ID": fakes.HUB_ID, "WIF_ARGOCD_IDENTITY_ID": fakes.IDENTITY_ID,
       "WIF_ALLOWED_SCOPES": f"/subscriptions/{fakes.SUB}"}


def run(*args: str, stdin: Optional[bytes] = None, env: Optional[dict[str, str]] = None) -> subprocess.CompletedProcess[str]:
    """The real entry point, with no WIF_* setting unless given."""
    clean = {"PATH": os.environ.get("PATH", ""), **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "wif_core", *args], cwd=ROOT, env=clean, input=stdin,
                          capture_output=True, timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    err = proc.stderr.splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), proc.stderr
    assert proc.stdout == ""
    return err[0]


# ---- event --dry-run: the contract in DESIGN.md -----------------------------------------

@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.json")))
def test_event_dry_run_prints_one_json_object_per_event(name: str) -> None:
    proc = run("event", str(DATA / name), "--dry-run")
    assert proc.returncode == 0 and proc.stderr == ""
    got = lines(proc.stdout)
    expected = [d.to_json() for d in events.decide((DATA / name).read_bytes())]
    assert got == expected
    for row in got:
        assert row["action"] in ("register", "deregister", "ignore")
        assert row["cluster"] is None or row["cluster"].startswith("/subscriptions/")
        assert row["reason"]


def test_event_dry_run_both_schemas() -> None:
    eg = lines(run("event", str(DATA / "eventgrid-batch.json"), "--dry-run").stdout)
    assert [r["action"] for r in eg] == ["register", "ignore", "ignore", "ignore", "ignore", "ignore", "deregister"]
    ce = lines(run("event", str(DATA / "cloudevents-batch.json"), "--dry-run").stdout)
    assert [r["action"] for r in ce] == ["register", "ignore", "ignore", "deregister"]
    assert ce[0]["cluster"].endswith("/managedClusters/aks-prod-eu")


def test_event_reads_stdin() -> None:
    proc = run("event", "-", "--dry-run", stdin=(DATA / "cloudevents-write-cluster.json").read_bytes())
    assert proc.returncode == 0 and lines(proc.stdout)[0]["action"] == "register"


def test_event_dry_run_filters_by_allowed_scopes_when_set() -> None:
    other = {"WIF_ALLOWED_SCOPES": "/subscriptions/00000000-0000-0000-0000-000000000000"}
    rows = lines(run("event", str(DATA / "eventgrid-write-cluster.json"), "--dry-run", env=other).stdout)
    assert rows[0]["action"] == "ignore" and "WIF_ALLOWED_SCOPES" in rows[0]["reason"]
    line = assert_one_line_error(run("event", str(DATA / "eventgrid-write-cluster.json"), "--dry-run",
                                     env={"WIF_ALLOWED_SCOPES": "/subscriptions/nope"}))
    assert "WIF_ALLOWED_SCOPES" in line


def test_hostile_id_in_a_well_formed_event_is_ignored() -> None:
    event = json.loads((DATA / "eventgrid-write-cluster.json").read_text())
    event["subject"] = event["data"]["resourceUri"] = event["subject"] + "/../../managedClusters/prod"
    proc = run("event", "-", "--dry-run", stdin=json.dumps(event).encode())
    assert proc.returncode == 0
    row = lines(proc.stdout)[0]
    assert row["action"] == "ignore" and row["cluster"] is None and row["reason"].startswith("invalid cluster id")


MALFORMED = {
    "not json": b"{nope",
    "binary": bytes(range(256)) * 4,
    "empty": b"",
    "empty array": b"[]",
    "not an event": b'{"hello": "world"}',
    "deep": b"[" * 200_000 + b"]" * 200_000,
    "huge": b'"' + b"a" * (events.MAX_BYTES + 10) + b'"',
    "too many": json.dumps([{"eventType": "x"}] * (events.MAX_EVENTS + 1)).encode(),
    "bad time": (DATA / "eventgrid-write-cluster.json").read_bytes().replace(b'"2024-05-14T09:12:31.4417396Z"', b'"soon"'),
    "newline in message": b'{"specversion": "1.0\\nINJECTED"}',
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_input_exits_2_with_one_line(name: str, tmp_path: Path) -> None:
    path = tmp_path / "payload.json"
    path.write_bytes(MALFORMED[name])
    line = assert_one_line_error(run("event", str(path), "--dry-run"))
    assert "INJECTED" not in line or "\\n" in line


@pytest.mark.parametrize("args", [
    ("event",), ("bogus",), (), ("plan",), ("plan", "--cluster"), ("plan", "--cluster", "x", "-o", "xml"),
    ("event", "/does/not/exist", "--dry-run"), ("onboard", "--cluster", "/subscriptions/../etc/passwd"),
])
def test_bad_arguments_exit_2_with_one_line(args: tuple[str, ...]) -> None:
    assert_one_line_error(run(*args))


def test_commands_that_need_settings_name_the_missing_one() -> None:
    line = assert_one_line_error(run("plan", "--cluster", fakes.cluster_id("app1")))
    assert "WIF_HUB_CLUSTER_ID" in line
    line = assert_one_line_error(run("event", str(DATA / "eventgrid-write-cluster.json")))
    assert "WIF_" in line


def test_help_exits_0() -> None:
    proc = run("--help")
    assert proc.returncode == 0 and "onboard" in proc.stdout and proc.stderr == ""


# ---- in-process, on the fake world ----------------------------------------------------

class Captured:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> Any:
        return json.loads(self.out)


class Terminal(io.StringIO):
    """A stream that says it is a terminal, as a person's would."""

    def isatty(self) -> bool:
        return True


def main(world: fakes.World, *args: str, env: Optional[dict[str, str]] = None,
         stdin: Optional[io.StringIO] = None, stdout: Optional[io.StringIO] = None) -> Captured:
    out, err = stdout or io.StringIO(), io.StringIO()
    code = cli.main(list(args), ports_factory=lambda settings: world.ports(), env=env or ENV, stdout=out, stderr=err,
                    stdin=stdin or io.StringIO())
    return Captured(code, out.getvalue(), err.getvalue())


@pytest.fixture
def world() -> fakes.World:
    return fakes.World()


def test_plan_json_renders_what_onboard_would_apply_without_applying(world: fakes.World) -> None:
    ref = world.add_cluster(fakes.cluster_id("app1"), tags={"env": "dev"})
    result = main(world, "plan", "--cluster", ref.id, "-o", "json")
    assert result.code == 0, result.err
    assert world.writes() == 0
    doc = result.json()
    assert doc["cluster"] == ref.id and doc["eligible"] is True and doc["changes"] == 4
    by_kind = {(m["kind"], m["name"]): m for m in doc["manifests"]}
    assert [m["action"] for m in doc["manifests"]] == ["create", "create", "create", "create"]
    secret = by_kind[("Secret", manifests.secret_name(ref))]["manifest"]
    assert secret["metadata"]["labels"][manifests.LABEL_SECRET_TYPE] == "cluster"
    assert secret["stringData"]["server"].startswith("https://")
    config = json.loads(secret["stringData"]["config"])
    assert config["execProviderConfig"]["command"] == "argocd-k8s-auth"
    assert config["tlsClientConfig"]["caData"] == fakes.CA_DATA
    binding = next(m for m in doc["manifests"] if m["kind"] == "ClusterRoleBinding")["manifest"]
    assert binding["subjects"][0]["name"] == world.identity.principal_id
    subjects = {m["manifest"]["subject"] for m in doc["manifests"] if m["kind"] == "FederatedIdentityCredential"}
    assert subjects == {"system:serviceaccount:argocd:argocd-application-controller",
                        "system:serviceaccount:argocd:argocd-server"}


def test_plan_after_onboard_is_unchanged_and_yaml_matches_json(world: fakes.World) -> None:
    ref = world.add_cluster(fakes.cluster_id("app1"))
    assert main(world, "onboard", "--cluster", ref.id).code == 0
    writes = world.writes()
    as_json = main(world, "plan", "--cluster", ref.id, "-o", "json").json()
    as_yaml = yaml.safe_load(main(world, "plan", "--cluster", ref.id).out)
    assert as_json == as_yaml
    assert as_json["changes"] == 0 and {m["action"] for m in as_json["manifests"]} == {"unchanged"}
    assert world.writes() == writes


def test_plan_azure_rbac_private_and_foreign(world: fakes.World) -> None:
    azure = world.add_cluster(fakes.cluster_id("az"), azure_rbac=True)
    doc = main(world, "plan", "--cluster", azure.id, "-o", "json").json()
    assignment = next(m for m in doc["manifests"] if m["kind"] == "RoleAssignment")
    assert assignment["action"] == "create" and assignment["manifest"]["scope"] == azure.id
    private = world.add_cluster(fakes.cluster_id("priv"), private=True)
    doc = main(world, "plan", "--cluster", private.id, "-o", "json").json()
    assert next(m for m in doc["manifests"] if m["kind"] == "ClusterRoleBinding")["action"] == "apply"
    foreign = world.add_cluster(fakes.cluster_id("taken"))
    name = manifests.secret_name(foreign)
    world.objects[fakes.model.ClusterRef.parse(fakes.HUB_ID).key][("Secret", "argocd", name)] = {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "argocd", "resourceVersion": "1"}}
    doc = main(world, "plan", "--cluster", foreign.id, "-o", "json").json()
    secret = next(m for m in doc["manifests"] if m["kind"] == "Secret")
    assert secret["action"] == "refuse" and doc["refusals"] == 1
    assert world.writes() == 0


def test_plan_of_an_ineligible_cluster(world: fakes.World) -> None:
    ref = world.add_cluster(fakes.cluster_id("untagged"))
    doc = main(world, "plan", "--cluster", ref.id, "-o", "json", env={**ENV, "WIF_OPT_IN_TAG": "argocd"}).json()
    assert doc["eligible"] is False and "WIF_OPT_IN_TAG" in doc["reason"]
    assert doc["changes"] == 0 and all(m["action"] == "none" for m in doc["manifests"])


def test_plan_of_a_cluster_still_provisioning_fails_with_one_line(world: fakes.World) -> None:
    ref = world.add_cluster(fakes.cluster_id("new"), state="Creating")
    result = main(world, "plan", "--cluster", ref.id, "-o", "json")
    assert result.code == 1 and result.out == "" and result.err == "error: cluster new is Creating\n"


PROGRESS = re.compile(r"^\[(\d)/(\d)\] (\w+) +(started|done|skipped|failed|waiting \(attempt \d+\)|retrying \(attempt \d+\))"
                      r"(: .*?)?(  \d+\.\ds)?$")


def test_onboard_prints_progress_and_a_json_summary_and_a_second_run_writes_nothing(world: fakes.World) -> None:
    ref = world.add_cluster(fakes.cluster_id("app1"))
    first = main(world, "onboard", "--cluster", ref.id, "-o", "json")
    assert first.code == 0, first.err
    summary = first.json()
    assert summary["ok"] is True and summary["cluster"] == ref.id and summary["chain"] == "register"
    assert summary["results"]["register"]["action"] == "created"
    progress = first.err.splitlines()
    assert all(PROGRESS.match(line) for line in progress), progress
    assert any(line.startswith("[6/7] register") and line.endswith("s") and " done: " in line for line in progress)
    writes = world.writes()
    second = main(world, "onboard", "--cluster", ref.id, "-o", "json")
    assert second.code == 0 and world.writes() == writes
    assert second.json()["results"]["register"]["action"] == "unchanged"


def test_onboard_shows_waiting_with_the_attempt(world: fakes.World) -> None:
    now = [0.0]
    world.clock, world.propagation_delay = (lambda: now[0]), 5.0
    ref = world.add_cluster(fakes.cluster_id("app1"))

    def sleep(seconds: float) -> None:
        now[0] += seconds

    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["onboard", "--cluster", ref.id, "-o", "json"], ports_factory=lambda s: world.ports(), env=ENV, stdout=out,
                    stderr=err, clock=lambda: now[0], sleep=sleep)
    assert code == 0, err.getvalue()
    progress = err.getvalue().splitlines()
    waiting = [line for line in progress if "waiting" in line]
    assert waiting and waiting[0].startswith("[3/7] await_propagation waiting (attempt 1): AADSTS70021")
    assert all(PROGRESS.match(line) for line in progress), progress
    assert 5.0 <= json.loads(out.getvalue())["seconds"]["await_propagation"] < 7.0


def test_onboard_failure_exits_1_with_the_summary_and_one_error_line(world: fakes.World) -> None:
    ref = world.add_cluster(fakes.cluster_id("app1"))
    elsewhere = {**ENV, "WIF_ALLOWED_SCOPES": f"/subscriptions/{fakes.SUB}/resourceGroups/other"}
    result = main(world, "onboard", "--cluster", ref.id, "-o", "json", env=elsewhere)
    assert result.code == 1
    assert result.json()["ok"] is False and result.json()["failed_step"] == "discover"
    errors_ = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert len(errors_) == 1 and "WIF_ALLOWED_SCOPES" in errors_[0]


def test_offboard_and_verify(world: fakes.World) -> None:
    ref = world.add_cluster(fakes.cluster_id("app1"))
    assert main(world, "onboard", "--cluster", ref.id).code == 0
    verified = main(world, "verify", "--cluster", ref.id, "-o", "json", env={**ENV, "WIF_VERIFY": "false"})
    assert verified.code == 0 and verified.json()["results"]["verify"]["allowed"] is True
    assert [line.split()[1] for line in verified.err.splitlines() if " done" in line] == ["discover", "verify"]
    world.objects[ref.key] = {k: v for k, v in world.objects[ref.key].items() if k[0] != "ClusterRoleBinding"}
    denied = main(world, "verify", "--cluster", ref.id, "-o", "json", env={**ENV, "WIF_PROPAGATION_TIMEOUT_SECONDS": "1"})
    assert denied.code == 1 and "may not list namespaces" in denied.json()["error"]
    off = main(world, "offboard", "--cluster", ref.id, "-o", "json")
    assert off.code == 0 and off.json()["results"]["deregister"]["secret"] == "deleted"
    assert world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(ref)) is None


def fleet_event(name: str, kind: str = events.WRITE_EVENT) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((DATA / "eventgrid-write-cluster.json").read_text())
    rid = fakes.cluster_id(name)
    event.update(subject=rid, topic=f"/subscriptions/{fakes.SUB}", eventType=kind)
    op = events.WRITE_OPERATION if kind == events.WRITE_EVENT else events.DELETE_OPERATION
    event["data"].update(resourceUri=rid, subscriptionId=fakes.SUB, operationName=op)
    return event


def test_event_without_dry_run_runs_the_chain_once_per_cluster(world: fakes.World, tmp_path: Path) -> None:
    app1 = world.add_cluster(fakes.cluster_id("app1"))
    app2 = world.add_cluster(fakes.cluster_id("app2"))
    payload = [fleet_event("app1"), fleet_event("app1"), fleet_event("app2"), fleet_event("app2", events.DELETE_EVENT),
               json.loads((DATA / "eventgrid-subscription-validation.json").read_text())[0]]
    path = tmp_path / "batch.json"
    path.write_text(json.dumps(payload))
    result = main(world, "event", str(path))
    assert result.code == 0, result.err
    rows = lines(result.out)
    assert [(r["action"], r.get("run")) for r in rows] == [
        ("register", "ok"), ("register", "duplicate"), ("register", "ok"), ("deregister", "ok"), ("ignore", None)]
    assert world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(app1)) is not None
    assert world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(app2)) is None


def test_event_run_failure_exits_1(world: fakes.World, tmp_path: Path) -> None:
    path = tmp_path / "e.json"
    path.write_text(json.dumps(fleet_event("missing")))
    result = main(world, "event", str(path))
    assert result.code == 1
    assert lines(result.out)[0]["run"] == "failed"
    assert any(line.startswith("error: register ") for line in result.err.splitlines())


def test_unexpected_errors_are_one_line_unless_debug(world: fakes.World) -> None:
    def broken(settings: Any) -> Any:
        raise RuntimeError("boom\nsecond line")

    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["plan", "--cluster", fakes.cluster_id("a")], ports_factory=broken, env=ENV, stdout=out, stderr=err)
    assert code == 1 and err.getvalue() == (
        "error: unexpected RuntimeError: boom second line; rerun with --debug for the traceback\n")
    err = io.StringIO()
    code = cli.main(["plan", "--cluster", fakes.cluster_id("a"), "--debug"], ports_factory=broken, env=ENV,
                    stdout=out, stderr=err)
    assert code == 1 and "Traceback" in err.getvalue()
    assert err.getvalue().endswith("error: unexpected RuntimeError: boom second line\n")


def test_wif_errors_map_to_exit_codes(world: fakes.World) -> None:
    def refuse(settings: Any) -> Any:
        raise errors.Forbidden("no access to the hub; grant Reader")

    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["plan", "--cluster", fakes.cluster_id("a")], ports_factory=refuse, env=ENV, stdout=out, stderr=err) == 1
    assert err.getvalue() == "error: no access to the hub; grant Reader\n"
    err = io.StringIO()
    assert cli.main(["plan", "--cluster", fakes.cluster_id("a")], env={**ENV, "WIF_TOPOLOGY": "mesh"},
                    stdout=out, stderr=err) == 2
    assert err.getvalue().startswith("error: WIF_TOPOLOGY must be hub | in-cluster")


def test_plan_in_cluster_topology_targets_the_cluster_itself(world: fakes.World) -> None:
    ref = world.add_cluster(fakes.cluster_id("edge1"))
    env = {k: v for k, v in ENV.items() if k != "WIF_HUB_CLUSTER_ID"} | {"WIF_TOPOLOGY": "in-cluster"}
    doc = main(world, "plan", "--cluster", ref.id, "-o", "json", env=env).json()
    assert doc["hub"] == ref.id and doc["topology"] == "in-cluster"
    issuers = {m["manifest"]["issuer"] for m in doc["manifests"] if m["kind"] == "FederatedIdentityCredential"}
    assert issuers == {"https://oidc.example/edge1/"}
    assert next(m for m in doc["manifests"] if m["kind"] == "Secret")["target"] == "cluster edge1, namespace argocd"
    assert world.writes() == 0


def test_the_hub_is_skipped_by_onboard_event_and_plan_with_exit_0(world: fakes.World, tmp_path: Path) -> None:
    onboard = main(world, "onboard", "--cluster", fakes.HUB_ID)
    assert onboard.code == 0 and world.writes() == 0, onboard.err
    assert onboard.err.splitlines()[-1].startswith(f"skipped: {fakes.HUB_ID}: ") and "hub" in onboard.err.splitlines()[-1]
    event = json.dumps({"id": "1", "eventType": "Microsoft.Resources.ResourceWriteSuccess", "subject": fakes.HUB_ID,
                        "eventTime": "2024-05-14T09:12:31Z", "dataVersion": "", "metadataVersion": "1",
                        "topic": f"/subscriptions/{fakes.SUB}",
                        "data": {"operationName": "Microsoft.ContainerService/managedClusters/write",
                                 "resourceUri": fakes.HUB_ID, "status": "Succeeded"}})
    path = tmp_path / "hub-event.json"
    path.write_text(event)
    ran = main(world, "event", str(path))
    assert ran.code == 0 and lines(ran.out)[0]["run"] == "skipped", (ran.out, ran.err)
    assert "skipped: " in ran.err and world.writes() == 0
    planned = main(world, "plan", "--cluster", fakes.HUB_ID, "-o", "json")
    assert planned.code == 0 and planned.json()["manifests"] == [] and planned.json()["eligible"] is False
    assert not any(op.startswith("kube.") for op in world.calls), world.calls


# ---- argocd-values -----------------------------------------------------------------------

def test_argocd_values_prints_yaml_with_how_to_apply_and_json_with_the_same_values(world: fakes.World) -> None:
    as_yaml = main(world, "argocd-values")
    assert as_yaml.code == 0 and as_yaml.err == "", as_yaml.err
    comments = [line for line in as_yaml.out.splitlines() if line.startswith("#")]
    assert any("helm upgrade argocd argo/argo-cd -n argocd --reuse-values -f -" in line for line in comments)
    doc = yaml.safe_load(as_yaml.out)
    assert doc["controller"]["serviceAccount"]["annotations"]["azure.workload.identity/client-id"] == "client-0001"
    assert doc["server"]["podLabels"] == {"azure.workload.identity/use": "true"}
    as_json = main(world, "argocd-values", "-o", "json")
    assert as_json.code == 0 and as_json.json() == doc
    assert world.calls["arm.identity.get"] == 2 and world.writes() == 0


def test_argocd_values_follows_the_service_accounts_setting(world: fakes.World) -> None:
    env = {**ENV, "WIF_ARGOCD_NAMESPACE": "gitops", "WIF_ARGOCD_SERVICE_ACCOUNTS": "argocd-server,argocd-repo-server"}
    result = main(world, "argocd-values", env=env)
    assert result.code == 0 and "-n gitops " in result.out
    assert list(yaml.safe_load(result.out)) == ["server", "repoServer"]


def test_argocd_values_with_an_unknown_service_account_exits_2_naming_the_setting(world: fakes.World) -> None:
    env = {**ENV, "WIF_ARGOCD_SERVICE_ACCOUNTS": "argocd-application-controller,my-argocd"}
    result = main(world, "argocd-values", env=env)
    assert result.code == 2 and result.out == "" and "Traceback" not in result.err
    assert result.err.splitlines() == [result.err.strip()]
    assert result.err.startswith("error: WIF_ARGOCD_SERVICE_ACCOUNTS: my-argocd is not")
    assert world.calls["arm.identity.get"] == 0, "refused before any Azure call"


def test_argocd_values_when_the_identity_cannot_be_read_exits_1(world: fakes.World) -> None:
    world.fail("arm.identity.get", errors.NotFound("identity argocd not found; check WIF_ARGOCD_IDENTITY_ID"))
    result = main(world, "argocd-values")
    assert result.code == 1 and result.out == ""
    assert result.err == "error: identity argocd not found; check WIF_ARGOCD_IDENTITY_ID\n"


def test_list_shows_the_registered_clusters_as_a_table_and_as_json(world: fakes.World) -> None:
    empty = main(world, "list")
    assert empty.code == 0 and empty.out == "no registered clusters\n"
    refs = [world.add_cluster(fakes.cluster_id(n)) for n in ("app-b", "app-a")]
    for ref in refs:
        assert main(world, "onboard", "--cluster", ref.id).code == 0
    world.calls.clear()
    table = main(world, "list")
    assert table.code == 0, table.err
    lines = table.out.splitlines()
    assert lines[0].split() == ["NAME", "CLUSTER", "SERVER", "RBAC", "LOCATION", "SECRET"]
    assert [line.split()[1] for line in lines[1:]] == ["rg-apps/app-a", "rg-apps/app-b"]  # by cluster id
    assert world.writes() == 0 and world.calls["kube.Secret.list"] == 1
    doc = main(world, "list", "-o", "json").json()
    assert [c["cluster"] for c in doc["clusters"]] == sorted(r.id for r in refs)
    assert all(c["name"].startswith(("app-a-", "app-b-")) and c["server"].startswith("https://") for c in doc["clusters"])
    incluster = main(world, "list", env={**ENV, "WIF_TOPOLOGY": "in-cluster", "WIF_HUB_CLUSTER_ID": ""})
    assert incluster.code == 2 and "in-cluster" in incluster.err


# ---- verify of a cluster never onboarded --------------------------------------------------

def no_sleep(seconds: float) -> None:
    raise AssertionError(f"slept {seconds}s: nothing may poll here")


def test_verify_of_a_cluster_never_onboarded_answers_at_once(world: fakes.World) -> None:
    ref = world.add_cluster(fakes.cluster_id("app1"))
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["verify", "--cluster", ref.id], ports_factory=lambda s: world.ports(), env=ENV, stdout=out,
                    stderr=err, sleep=no_sleep)
    secret = manifests.secret_name(ref)
    assert code == 1 and out.getvalue() == ""
    assert err.getvalue() == f"error: verify {ref.id}: not registered (no Secret argocd/{secret} on hub); run onboard\n"
    assert not any(op.startswith(("kube.SubjectAccessReview", "entra.")) for op in world.calls), world.calls
    assert world.writes() == 0
    as_json = main(world, "verify", "--cluster", ref.id, "-o", "json")
    assert as_json.code == 1 and as_json.json()["ok"] is False and "run onboard" in as_json.json()["error"]


def test_verify_refuses_a_secret_that_is_not_ours(world: fakes.World) -> None:
    ref = world.add_cluster(fakes.cluster_id("taken"))
    name = manifests.secret_name(ref)
    world.objects[fakes.model.ClusterRef.parse(fakes.HUB_ID).key][("Secret", "argocd", name)] = {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "argocd", "resourceVersion": "1"}}
    result = main(world, "verify", "--cluster", ref.id)
    assert result.code == 1 and f"Secret argocd/{name} is not ours (foreign) on hub); run onboard" in result.err


def test_verify_in_cluster_topology_looks_for_the_secret_on_the_target(world: fakes.World) -> None:
    ref = world.add_cluster(fakes.cluster_id("edge1"))
    env = {k: v for k, v in ENV.items() if k != "WIF_HUB_CLUSTER_ID"} | {"WIF_TOPOLOGY": "in-cluster"}
    before = main(world, "verify", "--cluster", ref.id, env=env)
    assert before.code == 1 and "on edge1); run onboard" in before.err
    assert main(world, "onboard", "--cluster", ref.id, env=env).code == 0
    after = main(world, "verify", "--cluster", ref.id, env=env)
    assert after.code == 0, after.err
    assert after.out.startswith("edge1 verified: the Argo CD identity has access")


# ---- onboard never removes; offboard asks on a terminal ----------------------------------

OPT_IN = {**ENV, "WIF_OPT_IN_TAG": "argocd"}


def test_onboard_of_a_cluster_never_in_the_opt_in_is_skipped_with_exit_0(world: fakes.World) -> None:
    ref = world.add_cluster(fakes.cluster_id("untagged"))
    result = main(world, "onboard", "--cluster", ref.id, env=OPT_IN)
    assert result.code == 0, result.err
    assert result.err.splitlines()[-1] == f"skipped: {ref.id}: not registered: it lacks the opt-in tag argocd (WIF_OPT_IN_TAG)"
    assert world.writes() == 0 and not any(op.startswith("kube.ClusterRoleBinding") for op in world.calls)


def test_onboard_of_a_registered_cluster_that_lost_its_tag_changes_nothing_and_exits_1(world: fakes.World,
                                                                                     tmp_path: Path) -> None:
    ref = world.add_cluster(fakes.cluster_id("app1"), tags={"argocd": "yes"})
    assert main(world, "onboard", "--cluster", ref.id, env=OPT_IN).code == 0
    world.add_cluster(ref.id, tags={})  # the opt-in tag removed
    writes, secret = world.writes(), manifests.secret_name(ref)
    result = main(world, "onboard", "--cluster", ref.id, env=OPT_IN)
    assert result.code == 1 and result.out == ""
    assert result.err.splitlines()[-1] == (f"error: register {ref.id}: not eligible: it lacks the opt-in tag "
                                           "argocd (WIF_OPT_IN_TAG); nothing changed (use offboard to remove it)")
    assert "deregister" not in result.err.split("error:")[0]  # no step announced a removal
    assert world.writes() == writes and world.object(fakes.HUB_ID, "Secret", "argocd", secret) is not None
    as_json = main(world, "onboard", "--cluster", ref.id, "-o", "json", env=OPT_IN).json()
    assert as_json["ok"] is False and as_json["results"]["discover"]["eligible"] is False
    # Events keep taking a cluster that left the opt-in out.
    path = tmp_path / "e.json"
    path.write_text(json.dumps(fleet_event("app1")))
    ran = main(world, "event", str(path), env=OPT_IN)
    assert ran.code == 0 and lines(ran.out)[0]["run"] == "ok", ran.err
    assert world.object(fakes.HUB_ID, "Secret", "argocd", secret) is None


@pytest.mark.parametrize(("answer", "deleted"), [("y\n", True), ("yes\n", True), ("n\n", False), ("", False)])
def test_offboard_asks_on_a_terminal(world: fakes.World, answer: str, deleted: bool) -> None:
    ref = world.add_cluster(fakes.cluster_id("app1"))
    assert main(world, "onboard", "--cluster", ref.id).code == 0
    result = main(world, "offboard", "--cluster", ref.id, stdin=Terminal(answer))
    assert "[y/N]" in result.err
    assert (result.code == 0) is deleted
    gone = world.object(fakes.HUB_ID, "Secret", "argocd", manifests.secret_name(ref)) is None
    assert gone is deleted
    if not deleted:
        assert result.err.endswith(f"error: offboard {ref.id}: not confirmed; nothing changed\n")


def test_offboard_with_yes_or_without_a_terminal_does_not_ask(world: fakes.World) -> None:
    refs = [world.add_cluster(fakes.cluster_id(n)) for n in ("app1", "app2")]
    for ref in refs:
        assert main(world, "onboard", "--cluster", ref.id).code == 0
    yes = main(world, "offboard", "--cluster", refs[0].id, "--yes", stdin=Terminal(""))
    script = main(world, "offboard", "--cluster", refs[1].id)
    for result in (yes, script):
        assert result.code == 0 and "[y/N]" not in result.err, result.err
    assert script.out.startswith("app2 offboarded: Secret deleted, binding deleted in ")


# ---- what a person sees ----------------------------------------------------------------------

def test_onboard_prints_one_human_line_and_yaml_is_the_json(world: fakes.World) -> None:
    ref = world.add_cluster(fakes.cluster_id("app1"))
    first = main(world, "onboard", "--cluster", ref.id)
    assert first.code == 0
    assert re.fullmatch(rf"app1 registered → argocd/{manifests.secret_name(ref)}, verified in \d+\.\d s\n", first.out)
    again = main(world, "onboard", "--cluster", ref.id)
    assert " (unchanged), verified in " in again.out
    as_yaml = yaml.safe_load(main(world, "onboard", "--cluster", ref.id, "-o", "yaml").out)
    assert as_yaml == main(world, "onboard", "--cluster", ref.id, "-o", "json").json()  # the fake clock stands still


def test_a_failure_is_told_once_on_one_line(world: fakes.World) -> None:
    ref = world.add_cluster(fakes.cluster_id("app1"))
    elsewhere = {**ENV, "WIF_ALLOWED_SCOPES": f"/subscriptions/{fakes.SUB}/resourceGroups/other"}
    result = main(world, "onboard", "--cluster", ref.id, env=elsewhere)
    assert result.code == 1 and result.out == ""
    assert result.err.count("is outside WIF_ALLOWED_SCOPES") == 1, result.err
    assert result.err.splitlines()[-1].startswith(f"error: register {ref.id}: discover: ")
    assert "[1/7] discover          failed  " in result.err


def test_colour_only_on_a_terminal_and_never_with_no_color(world: fakes.World) -> None:
    ref = world.add_cluster(fakes.cluster_id("app1"))
    coloured = main(world, "onboard", "--cluster", ref.id, stdout=Terminal())
    assert coloured.out.startswith("\x1b[32mapp1 registered") and coloured.out.endswith("\x1b[0m\n")
    plain = main(world, "onboard", "--cluster", ref.id, stdout=Terminal(), env={**ENV, "NO_COLOR": "1"})
    assert "\x1b[" not in plain.out and plain.out.startswith("app1 registered")
    assert "\x1b[" not in main(world, "onboard", "--cluster", ref.id).out


def test_version_is_the_projects() -> None:
    # No tomllib: Python 3.10 (the floors job) has none. The [project] table's version line.
    project = (ROOT / "pyproject.toml").read_text().split("[project]", 1)[1]
    wanted = re.search(r'^version\s*=\s*"([^"]+)"', project, re.M).group(1)  # type: ignore[union-attr]
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout == f"aks-argocd-wif {wanted}\n" and proc.stderr == ""


def test_every_missing_setting_is_named_at_once() -> None:
    line = assert_one_line_error(run("plan", "--cluster", fakes.cluster_id("app1")))
    for name in ("WIF_HUB_CLUSTER_ID", "WIF_ARGOCD_IDENTITY_ID", "WIF_ALLOWED_SCOPES"):
        assert name in line, line
    line = assert_one_line_error(run("plan", "--cluster", fakes.cluster_id("app1"),
                                     env={**ENV, "WIF_RBAC_MODE": "both", "WIF_VERIFY": "maybe", "WIF_ARGOCD_IDENTITY_ID": ""}))
    assert line.startswith("error: WIF_ARGOCD_IDENTITY_ID is not set")
    assert "WIF_RBAC_MODE must be" in line and "WIF_VERIFY must be" in line
