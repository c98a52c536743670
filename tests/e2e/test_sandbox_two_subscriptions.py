"""The product on the sandbox's two subscriptions: two ``prod`` clusters, both registered, both reachable.

Uses ``test_argo_style``'s world (function app on the replay engine, virtual time);
events for the second cluster arrive with its id spelled in Event Grid's lower-case
variant, as real deliveries may.
"""
from __future__ import annotations

from pathlib import Path

from tests.e2e.test_argo_style import World, world  # noqa: F401  (the fixture)
from wif_sandbox import argo


def test_two_prod_clusters_in_two_subscriptions_are_both_registered(world: World, tmp_path: Path) -> None:  # noqa: F811
    sb = world.sb
    sb.faults.event_casing = "lower"
    first, first_run = world.create("prod", resource_group="rg-a")
    second, second_run = world.create("prod", resource_group="rg-b", subscription_id=sb.second_subscription_id)
    assert first_run != second_run and world.secret_name(first) != world.secret_name(second)
    for run in (first_run, second_run):
        inst = world.host.run(run)
        assert inst.status == "Completed", inst.output
    assert "default" in argo.connect(sb, world.secret_name(first), tmp_path)
    assert "default" in argo.connect(sb, world.secret_name(second), tmp_path)
    data, _ = argo.read_secret(sb, world.secret_name(second))
    assert data["server"] == sb.plane(second).api_url
