"""wif_core.codec: every step value crosses the activity boundary as JSON and comes back equal."""
from __future__ import annotations

import json
from typing import Any

import pytest

from tests import fakes
from wif_core import chain, codec, errors, model

REF = model.ClusterRef.parse(fakes.cluster_id("app1"))
HUB = model.ClusterRef.parse(fakes.HUB_ID)


def facts(ref: model.ClusterRef, **changes: Any) -> model.ClusterFacts:
    values: dict[str, Any] = dict(
        ref=ref, provisioning_state="Succeeded", location="westeurope", server=f"https://{ref.name}.hcp.example:443",
        ca_data=fakes.CA_DATA, private=False, aad=True, azure_rbac=False, oidc_issuer="https://oidc.example/x/",
        workload_identity=True, tenant_id=fakes.TENANT, tags=(("env", "dev"), ("team", "platform")))
    values.update(changes)
    return model.ClusterFacts(**values)


IDENTITY = model.IdentityFacts(fakes.IDENTITY_ID, "argocd", "client-1", "principal-1", fakes.TENANT)
CREDENTIAL = model.FederatedCredential("argocd-server-1", "https://oidc.example/hub/",
                                       "system:serviceaccount:argocd:argocd-server")

VALUES: list[object] = [
    REF,
    model.IdentityRef.parse(fakes.IDENTITY_ID),
    model.Scope.parse(f"/subscriptions/{fakes.SUB}"),
    model.Scope.parse(f"/subscriptions/{fakes.SUB}/resourceGroups/rg-apps"),
    facts(REF),
    facts(REF, oidc_issuer=None, tenant_id=None, tags=()),
    IDENTITY,
    CREDENTIAL,
    model.RoleAssignment("6b1f8a52-4d0e-4a4f-9a57-4e1f3b0c2d77", REF.id, "/subscriptions/x/roleDefinitions/y", "p"),
    model.RunResult(1, "error: forbidden\nline two"),
    model.Discovered(facts(REF), facts(HUB), IDENTITY),
    model.Discovered(facts(REF), facts(HUB), IDENTITY, eligible=False, reason="lacks the opt-in tag"),
    model.Federated(fakes.IDENTITY_ID, (CREDENTIAL, CREDENTIAL), created=("argocd-server-1",)),
    model.Federated(fakes.IDENTITY_ID, ()),
    model.Propagated(("system:serviceaccount:argocd:a", "system:serviceaccount:argocd:b")),
    model.Registered("argocd", "aks-app1-1234", "created"),
    model.Bound("azure", "arm", "guid", "unchanged"),
    model.Verified(True, ""),
    model.Verified(False, "no binding \u2013 unicode"),
    model.Deregistered("deleted", "absent", ("c1", "c2")),
    model.Deregistered("foreign", "skipped"),
    model.Deregistered("skipped", "skipped", reason="skipped: it is the Argo CD hub itself"),
    model.RoleAssignment("6b1f8a52-4d0e-4a4f-9a57-4e1f3b0c2d77", REF.id, "/subscriptions/x/roleDefinitions/y", "p",
                         description=f"aks-argocd-wif for {REF.id}"),
    model.Federated(fakes.IDENTITY_ID, (CREDENTIAL,), notes=("credential x differs only by the trailing slash",)),
    model.Registered("argocd", "aks-app1-1234", "updated", notes=("tag 'Env' written as label key",)),
    model.RolledBack(("Secret argocd/aks-app1-1234",), ("ClusterRoleBinding b (timed out): az aks command invoke ...",)),
    model.RolledBack(),
    model.Failure("verify", "gave up after 900s: denied", "timeout"),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_round_trip(value: object) -> None:
    text = codec.dumps(value)
    assert codec.loads(text) == value
    assert codec.decode(json.loads(text)) == value
    assert json.loads(text)["type"] == type(value).__name__


def test_every_registered_type_is_covered() -> None:
    assert {type(v).__name__ for v in VALUES} == set(codec._TYPES)


def test_tuples_stay_tuples_and_nested_values_are_typed() -> None:
    back = codec.loads(codec.dumps(VALUES[10]))
    assert isinstance(back.target, model.ClusterFacts) and isinstance(back.target.ref, model.ClusterRef)
    assert isinstance(back.target.tags, tuple) and all(isinstance(t, tuple) for t in back.target.tags)
    assert back.target.tag_map() == {"env": "dev", "team": "platform"}
    federated = codec.loads(codec.dumps(VALUES[12]))
    assert isinstance(federated.credentials[0], model.FederatedCredential) and isinstance(federated.credentials, tuple)


def test_encode_is_plain_json() -> None:
    encoded = codec.encode(VALUES[10])
    assert json.loads(json.dumps(encoded)) == encoded
    assert codec.encode([REF, None, 1, 2.5, "x", True, {"k": REF}])[-1] == {"k": codec.encode(REF)}


def test_encode_refuses_what_json_cannot_carry() -> None:
    with pytest.raises(TypeError):
        codec.encode(object())
    with pytest.raises(TypeError):
        codec.encode({"when": b"bytes"})


@pytest.mark.parametrize("data", [
    None, 1, "Verified", [], {}, {"type": "Nope"}, {"type": "str"}, {"type": "Verified"},
    {"type": "Discovered", "target": 5, "hub": None, "identity": None},
    {"type": "Federated", "identity_id": "x", "credentials": "abc"},
    {"type": "Propagated", "subjects": 5},
])
def test_decode_rejects_with_bad_input(data: object) -> None:
    with pytest.raises(errors.BadInput):
        codec.decode(data)


def test_loads_of_an_activity_payload_round_trips_the_results_the_step_needs() -> None:
    results = {"discover": VALUES[10], "federate": VALUES[12]}
    payload = json.loads(json.dumps(chain.activity_input("register", "register", REF, results)))
    step, ref, decoded = chain.decode_activity_input(payload)
    assert (step.name, ref, decoded) == ("register", REF, {"discover": VALUES[10]}), "register reads discover only"
    assert chain.activity_input("register", "discover", REF, results)["results"] == {}


def test_carried_results_stay_encoded_until_read() -> None:
    carried = chain.Carried()
    for name, value in {"discover": VALUES[10], "federate": VALUES[12]}.items():
        carried.add(name, codec.encode(value))
    assert chain.activity_input("register", "verify", REF, carried) == chain.activity_input(
        "register", "verify", REF, {"discover": VALUES[10]})
    assert list(carried) == ["discover", "federate"] and carried["federate"] == VALUES[12]


def test_the_orchestrators_eligibility_check_reads_the_flag_without_decoding() -> None:
    settings = fakes.settings()
    assert settings.verify
    for eligible in (True, False):
        carried = chain.Carried()
        # Not decodable as a Discovered (no target, hub or identity): only the flag can be read.
        carried.add("discover", {"type": "Discovered", "eligible": eligible})
        assert [s.name for s in chain.REGISTER if s.when(settings, carried)][-1] == (
            "register" if eligible else "deregister")
        assert "discover" in carried and "federate" not in carried  # membership decodes nothing either
        assert chain.activity_input("register", "register", REF, carried)["results"] == {
            "discover": {"type": "Discovered", "eligible": eligible}}
        with pytest.raises(errors.BadInput):
            carried["discover"]
    decoded = {"discover": VALUES[10]}  # the in-process runner passes decoded results
    assert chain.REGISTER[1].when(settings, decoded) is VALUES[10].eligible
