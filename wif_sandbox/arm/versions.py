"""The api-versions ARM accepts per resource type, and its two ways of refusing the others.

ARM itself (Microsoft.Resources: subscriptions, resource groups) answers an unknown
version with ``InvalidApiVersionParameter`` and its own list, comma-separated without
spaces; a resource provider's type answers ``NoRegisteredProviderFound`` naming the
location, the version, the type and its registered versions ", "-separated (both texts as
ARM returns them, quoted in Azure/azure-cli#28368 and #32101 and azure-sdk-for-net#2276).

Sources of the lists: ARM's error texts quoted in those issues (Microsoft.Resources up to
2024-08-01, managedClusters up to 2019-11-01), the azure-native provider's "Other
available API versions" lists generated from azure-rest-api-specs (managedClusters
2019-11-01..2026-05-02-preview, managedidentity 2022-01-31-preview..2025-01-31-preview),
the msi spec's 2025-05-31-preview, and the versions the SDKs this repo and azure-cli 2.91
send: containerservice 41.0/41.6/41.7/41.8 (2026-01-01, -06-01, -07-01, -08-01), msi
2024-11-30, authorization 2022-04-01 (+ azure-mgmt-authorization's multi-api folders),
resources 2022-12-01 (subscriptions) and 2024-11-01 (groups).
"""
from __future__ import annotations

from typing import Optional

from wif_sandbox.arm.base import ArmError


def _split(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


RESOURCES = _split(
    "2024-11-01,2024-08-01,2024-06-01-preview,2024-03-01,2023-07-01,2023-07-01-preview,2023-03-01-preview,2022-12-01,"
    "2022-11-01-preview,2022-09-01,2022-06-01,2022-05-01,2022-03-01-preview,2022-01-01,2021-04-01,2021-01-01,"
    "2020-10-01,2020-09-01,2020-08-01,2020-07-01,2020-06-01,2020-05-01,2020-01-01,2019-11-01,2019-10-01,2019-09-01,"
    "2019-08-01,2019-07-01,2019-06-01,2019-05-10,2019-05-01,2019-03-01,2018-11-01,2018-09-01,2018-08-01,2018-07-01,"
    "2018-06-01,2018-05-01,2018-02-01,2018-01-01,2017-12-01,2017-08-01,2017-06-01,2017-05-10,2017-05-01,2017-03-01,"
    "2016-09-01,2016-07-01,2016-06-01,2016-02-01,2015-11-01,2015-01-01,2014-04-01-preview,2014-04-01,2014-01-01,"
    "2013-03-01,2014-02-26,2014-04")


def _aks() -> tuple[str, ...]:
    early = "2017-08-31, 2018-03-31, 2019-02-01, 2019-04-01, 2019-06-01, 2019-08-01, 2019-10-01, 2019-11-01"
    listed = ["2020-01-01", "2020-02-01", "2020-03-01", "2020-04-01", "2020-06-01", "2020-07-01", "2020-09-01",
              "2020-11-01", "2020-12-01", "2021-02-01", "2021-03-01", "2021-05-01", "2021-07-01", "2021-08-01",
              "2021-09-01", "2021-10-01", "2021-11-01-preview", "2022-01-01"]
    # From 2022 on AKS ships a stable YYYY-MM-01 and a preview YYYY-MM-02-preview most months:
    # the months below are the ones the sources list (no release is assumed for a month they skip).
    stable = {2022: (2, 3, 4, 6, 7, 8, 9, 11), 2023: (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), 2024: (1, 2, 5, 7, 8, 9, 10),
              2025: (1, 2, 3, 4, 5, 7, 8, 9, 10), 2026: (1, 2, 3, 4, 5, 6, 7, 8)}
    preview = {2022: (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), 2023: (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11),
               2024: (1, 2, 3, 4, 5, 6, 7, 9, 10), 2025: (1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 2026: (1, 2, 3, 4, 5)}
    for year in sorted(stable):
        for month in range(1, 13):
            if month in stable[year]:
                listed.append(f"{year}-{month:02d}-01")
            if month in preview.get(year, ()):
                listed.append(f"{year}-{month:02d}-02-preview")
    listed.insert(listed.index("2022-09-01"), "2022-08-03-preview")
    return (*_split(early), *listed)


MANAGED_CLUSTERS = _aks()
IDENTITIES = ("2015-08-31-preview", "2018-11-30", "2021-09-30-preview", "2022-01-31-preview", "2023-01-31",
              "2023-07-31-preview", "2024-11-30", "2025-01-31-preview", "2025-05-31-preview")
CREDENTIALS = IDENTITIES[IDENTITIES.index("2022-01-31-preview"):]  # federated credentials came with 2022-01-31-preview
ROLE_ASSIGNMENTS = ("2015-07-01", "2018-01-01-preview", "2018-09-01-preview", "2020-04-01-preview",
                    "2020-10-01-preview", "2022-04-01")
ROLE_DEFINITIONS = ("2015-07-01", "2018-01-01-preview", "2022-04-01", "2022-05-01-preview")

# route kind -> (ARM's short type name in the error, versions); Microsoft.Resources kinds have no short name.
BY_KIND: dict[str, tuple[str, tuple[str, ...]]] = {
    "cluster": ("managedClusters", MANAGED_CLUSTERS), "clusters": ("managedClusters", MANAGED_CLUSTERS),
    "clusterAction": ("managedClusters", MANAGED_CLUSTERS), "commandResult": ("managedClusters", MANAGED_CLUSTERS),
    "operation": ("locations/operations", MANAGED_CLUSTERS),
    "identity": ("userAssignedIdentities", IDENTITIES), "identities": ("userAssignedIdentities", IDENTITIES),
    "fic": ("userAssignedIdentities/federatedIdentityCredentials", CREDENTIALS),
    "fics": ("userAssignedIdentities/federatedIdentityCredentials", CREDENTIALS),
    "role": ("roleAssignments", ROLE_ASSIGNMENTS), "roles": ("roleAssignments", ROLE_ASSIGNMENTS),
    "roleDefinition": ("roleDefinitions", ROLE_DEFINITIONS), "roleDefinitions": ("roleDefinitions", ROLE_DEFINITIONS),
    "subscriptions": ("", RESOURCES), "subscription": ("", RESOURCES), "groups": ("", RESOURCES),
    "group": ("", RESOURCES),
}


def check(version: str, kind: str, location: Optional[str] = None) -> None:
    """Raise ARM's error when ``version`` is not one ``kind`` accepts; unknown kinds are not checked here."""
    found = BY_KIND.get(kind)
    if found is None or version.lower() in (v.lower() for v in found[1]):
        return
    short, versions = found
    if not short:
        raise ArmError(400, "InvalidApiVersionParameter",
                       f"The api-version '{version}' is invalid. The supported versions are '{','.join(versions)}'.")
    locations = "" if short.startswith("role") else ", ".join(LOCATIONS)
    raise ArmError(400, "NoRegisteredProviderFound",
                   f"No registered resource provider found for location '{location or ''}' and API version "
                   f"'{version}' for type '{short}'. The supported api-versions are '{', '.join(versions)}'. "
                   f"The supported locations are '{locations}'.")


# What the sandbox's providers say they serve (its clusters and identities may use any location).
LOCATIONS = ("eastus", "eastus2", "westus2", "westus3", "centralus", "northeurope", "westeurope", "uksouth",
             "swedencentral", "germanywestcentral", "francecentral", "southeastasia", "japaneast", "australiaeast")
