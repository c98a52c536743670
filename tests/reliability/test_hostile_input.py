"""Hostile input corpus: generated malformed and malicious input at every entry point.

Resource ids, Event Grid payloads (both schemas), the CLI's ``event`` command and
the function app's HTTP routes. The property everywhere: never a traceback, never
a write, always a clear one-line rejection (``errors.BadInput``, exit 2, HTTP 4xx
with an ``error`` string) or an ``ignore`` with a reason.
"""
from __future__ import annotations

import re
import urllib.parse

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wif_core import errors, model

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

GUID = st.from_regex(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", fullmatch=True)
RG = st.from_regex(r"[-A-Za-z0-9_.()]{0,20}[-A-Za-z0-9_()]", fullmatch=True)
AKS = st.from_regex(r"[A-Za-z0-9]([-_A-Za-z0-9]{0,20}[A-Za-z0-9])?", fullmatch=True)
VALID_IDS = st.builds(
    lambda sub, rg, name: f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}",
    GUID, RG, AKS)

# Things attackers and broken producers put into ids.
INSERTS = ["../", "..%2F", "%2e%2e/", "/", "//", "\x00", "%00", "?api-version=2024-01-01", "#frag", "/agentPools/np1",
           "/../../managedClusters/other", " ", "\t", "\n", "\r\n", "\u202e", "\u200b", "\ufeff", "\u0430", "\u212a",
           "'", '"', ";rm -rf /", "$(id)", "`id`", "<script>", "{{7*7}}", "${jndi:ldap://x}", "\\", ":", "@", "*"]
WRONG_PROVIDERS = ["Microsoft.Compute/virtualMachines", "Microsoft.ContainerService/fleets",
                   "Microsoft.Kubernetes/connectedClusters", "Microsoft.ContainerService/managedClusters/x/agentPools",
                   "Microsoft.ContainerServic/managedClusters", "Microsoft.ContainerService/managedClusters/"]


@st.composite
def mutated_ids(draw: st.DrawFn) -> str:
    """A valid cluster id with one hostile edit: inserted, replaced, encoded, truncated or blown up."""
    value = draw(VALID_IDS)
    how = draw(st.sampled_from(["insert", "replace-provider", "encode", "truncate", "repeat", "case", "text"]))
    if how == "insert":
        at = draw(st.integers(0, len(value)))
        return value[:at] + draw(st.sampled_from(INSERTS)) + value[at:]
    if how == "replace-provider":
        return value.replace("Microsoft.ContainerService/managedClusters", draw(st.sampled_from(WRONG_PROVIDERS)))
    if how == "encode":
        return urllib.parse.quote(value, safe=draw(st.sampled_from(["", "/", ":"])))
    if how == "truncate":
        return value[:draw(st.integers(0, len(value)))]
    if how == "repeat":
        return value * draw(st.integers(2, 20)) + "x" * draw(st.sampled_from([0, 1024, 100_000]))
    if how == "case":
        return "".join(c.upper() if draw(st.booleans()) else c.lower() for c in value)
    return draw(st.text(max_size=300))


NON_STRINGS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.binary(max_size=64),
                        st.lists(st.text(max_size=10), max_size=3), st.dictionaries(st.text(max_size=5), st.text(max_size=5),
                                                                                     max_size=3))

_SAFE_COMPONENT = re.compile(r"[-\w.()]+", re.ASCII)


@SETTINGS
@given(st.one_of(mutated_ids(), VALID_IDS, NON_STRINGS))
def test_cluster_ref_parse_rejects_with_bad_input_only(value: object) -> None:
    try:
        ref = model.ClusterRef.parse(value)
    except errors.BadInput as e:
        assert e.message and "\n" not in e.message and len(e.message) < 400, e.message
        return
    # Accepted: nothing was dropped or reinterpreted, and the id round-trips.
    assert isinstance(value, str)
    assert ref.key == value.strip().rstrip("/").lower()
    assert model.ClusterRef.parse(ref.id) == ref and model.ClusterRef.parse(ref.id.upper()).key == ref.key
    for part in (ref.subscription_id, ref.resource_group, ref.name):
        assert _SAFE_COMPONENT.fullmatch(part), part  # no '/', '%', '?', NUL, whitespace or non-ASCII
    assert not ref.resource_group.endswith(".") and re.fullmatch(r"[A-Za-z0-9]([-\w]*[A-Za-z0-9])?", ref.name, re.ASCII)


@SETTINGS
@given(VALID_IDS)
def test_valid_cluster_ids_round_trip(value: str) -> None:
    ref = model.ClusterRef.parse(value)
    assert ref.id.lower() == value.lower() and model.ClusterRef.parse(ref.id) == ref
    assert model.ClusterRef.parse(f"  {value}/ ") == ref

