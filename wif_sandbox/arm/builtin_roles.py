"""Azure's built-in role definitions that the product, its infra and the seeds' runbooks name.

Copied from Azure's generated reference ("Azure built-in roles", learn.microsoft.com,
articles/role-based-access-control/built-in-roles/{general,privileged,identity,containers,
security}.md, dated 07/01/2026): GUID, roleName, description and the permissions block exactly
as published, ``assignableScopes: ["/"]``. ARM serves them at every scope
(``{scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}``) and by ``roleName``
filter; a later step enforces ARM authorization from these permissions, so they must stay
exact: add a role by copying its JSON, never by paraphrasing it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

_AUTH_READ = "Microsoft.Authorization/*/read"
_SUB_READS = ("Microsoft.Resources/subscriptions/operationresults/read", "Microsoft.Resources/subscriptions/read",
              "Microsoft.Resources/subscriptions/resourceGroups/read")
_MI_COMMON = (_AUTH_READ, "Microsoft.Insights/alertRules/*", "Microsoft.Resources/subscriptions/resourceGroups/read",
              "Microsoft.Resources/deployments/*", "Microsoft.Support/*")
_AKS = "Microsoft.ContainerService/managedClusters/"


@dataclass(frozen=True)
class Role:
    guid: str
    name: str
    description: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()

    def permissions(self) -> list[dict[str, list[str]]]:
        return [{"actions": list(self.actions), "notActions": list(self.not_actions),
                 "dataActions": list(self.data_actions), "notDataActions": list(self.not_data_actions)}]


def _aks_data(*paths: str) -> tuple[str, ...]:
    return tuple(_AKS + p for p in paths)


_RBAC_READER_DATA = _aks_data(
    "apps/controllerrevisions/read", "apps/daemonsets/read", "apps/deployments/read", "apps/replicasets/read",
    "apps/statefulsets/read", "autoscaling/horizontalpodautoscalers/read", "batch/cronjobs/read", "batch/jobs/read",
    "configmaps/read", "discovery.k8s.io/endpointslices/read", "endpoints/read", "events.k8s.io/events/read",
    "events/read", "extensions/daemonsets/read", "extensions/deployments/read", "extensions/ingresses/read",
    "extensions/networkpolicies/read", "extensions/replicasets/read", "limitranges/read", "metrics.k8s.io/pods/read",
    "metrics.k8s.io/nodes/read", "namespaces/read", "networking.k8s.io/ingresses/read",
    "networking.k8s.io/networkpolicies/read", "persistentvolumeclaims/read", "pods/read",
    "policy/poddisruptionbudgets/read", "replicationcontrollers/read", "resourcequotas/read", "serviceaccounts/read",
    "services/read")
_RBAC_WRITER_DATA = _aks_data(
    "apps/controllerrevisions/read", "apps/daemonsets/*", "apps/deployments/*", "apps/replicasets/*",
    "apps/statefulsets/*", "autoscaling/horizontalpodautoscalers/*", "batch/cronjobs/*",
    "coordination.k8s.io/leases/read", "coordination.k8s.io/leases/write", "coordination.k8s.io/leases/delete",
    "discovery.k8s.io/endpointslices/read", "batch/jobs/*", "configmaps/*", "endpoints/*",
    "events.k8s.io/events/read", "events/*", "extensions/daemonsets/*", "extensions/deployments/*",
    "extensions/ingresses/*", "extensions/networkpolicies/*", "extensions/replicasets/*", "limitranges/read",
    "metrics.k8s.io/pods/read", "metrics.k8s.io/nodes/read", "namespaces/read", "networking.k8s.io/ingresses/*",
    "networking.k8s.io/networkpolicies/*", "persistentvolumeclaims/*", "pods/*", "policy/poddisruptionbudgets/*",
    "replicationcontrollers/*", "resourcequotas/read", "secrets/*", "serviceaccounts/*", "services/*")

ROLES: tuple[Role, ...] = (
    Role("acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader",
         "View all resources, but does not allow you to make any changes.", ("*/read",)),
    Role("b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor",
         "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage "
         "assignments in Azure Blueprints, or share image galleries.", ("*",),
         ("Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
          "Microsoft.Authorization/elevateAccess/Action", "Microsoft.Blueprint/blueprintAssignments/write",
          "Microsoft.Blueprint/blueprintAssignments/delete", "Microsoft.Compute/galleries/share/action",
          "Microsoft.Purview/consents/write", "Microsoft.Purview/consents/delete",
          "Microsoft.Resources/deploymentStacks/manageDenySetting/action", "Microsoft.Subscription/cancel/action",
          "Microsoft.Subscription/enable/action")),
    Role("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner",
         "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.", ("*",)),
    Role("f58310d9-a9f6-439a-9e8d-f62e7b41a168", "Role Based Access Control Administrator",
         "Manage access to Azure resources by assigning roles using Azure RBAC. This role does not allow you to manage "
         "access using other ways, such as Azure Policy.",
         ("Microsoft.Authorization/roleAssignments/write", "Microsoft.Authorization/roleAssignments/delete", "*/read",
          "Microsoft.Support/*")),
    Role("18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", "User Access Administrator",
         "Lets you manage user access to Azure resources.", ("*/read", "Microsoft.Authorization/*", "Microsoft.Support/*")),
    Role("e40ec5ca-96e0-45a2-b4ff-59039f2c2b59", "Managed Identity Contributor",
         "Create, Read, Update, and Delete User Assigned Identity",
         ("Microsoft.ManagedIdentity/userAssignedIdentities/read", "Microsoft.ManagedIdentity/userAssignedIdentities/write",
          "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
          "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read",
          "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
          "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete",
          "Microsoft.ManagedIdentity/userAssignedIdentities/revokeTokens/action", *_MI_COMMON)),
    Role("f1a07417-d97a-45cb-824c-7a7467783830", "Managed Identity Operator", "Read and Assign User Assigned Identity",
         ("Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
          "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action", *_MI_COMMON)),
    Role("4abbcc35-e782-43d8-92c5-2d3f1bd2253f", "Azure Kubernetes Service Cluster User Role",
         "List cluster user credential action.", (_AKS + "listClusterUserCredential/action", _AKS + "read")),
    Role("0ab0b1a8-8aac-4efd-b8c2-3ee1fb270be8", "Azure Kubernetes Service Cluster Admin Role",
         "List cluster admin credential action.",
         (_AKS + "listClusterAdminCredential/action", _AKS + "accessProfiles/listCredential/action", _AKS + "read",
          _AKS + "runcommand/action")),
    Role("ed7f3fbd-7b88-4dd4-9017-9adb7ce333f8", "Azure Kubernetes Service Contributor Role",
         "Grants access to read and write Azure Kubernetes Service clusters",
         (_AUTH_READ, "Microsoft.ContainerService/locations/*", _AKS + "*",
          "Microsoft.ContainerService/managedclustersnapshots/*", "Microsoft.ContainerService/snapshots/*",
          "Microsoft.Insights/alertRules/*", "Microsoft.Resources/deployments/*",
          "Microsoft.Resources/subscriptions/resourceGroups/read")),
    Role("b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b", "Azure Kubernetes Service RBAC Cluster Admin",
         "Lets you manage all resources in the cluster.",
         (_AUTH_READ, *_SUB_READS, _AKS + "listClusterUserCredential/action"), data_actions=(_AKS + "*",)),
    Role("3498e952-d568-435e-9b2c-8d77e338d7f7", "Azure Kubernetes Service RBAC Admin",
         "Lets you manage all resources under cluster/namespace, except update or delete resource quotas and namespaces.",
         (_AUTH_READ, *_SUB_READS, _AKS + "listClusterUserCredential/action"), data_actions=(_AKS + "*",),
         not_data_actions=_aks_data("resourcequotas/write", "resourcequotas/delete", "namespaces/write",
                                    "namespaces/delete")),
    Role("a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb", "Azure Kubernetes Service RBAC Writer",
         "Allows read/write access to most objects in a namespace.This role does not allow viewing or modifying roles or "
         "role bindings. However, this role allows accessing Secrets and running Pods as any ServiceAccount in the "
         "namespace, so it can be used to gain the API access levels of any ServiceAccount in the namespace. Applying "
         "this role at cluster scope will give access across all namespaces.",
         (_AUTH_READ, *_SUB_READS), data_actions=_RBAC_WRITER_DATA),
    Role("7f6c6a51-bcf8-42ba-9220-52d62157d7db", "Azure Kubernetes Service RBAC Reader",
         "Allows read-only access to see most objects in a namespace. It does not allow viewing roles or role bindings. "
         "This role does not allow viewing Secrets, since reading the contents of Secrets enables access to "
         "ServiceAccount credentials in the namespace, which would allow API access as any ServiceAccount in the "
         "namespace (a form of privilege escalation). Applying this role at cluster scope will give access across all "
         "namespaces.", (_AUTH_READ, *_SUB_READS), data_actions=_RBAC_READER_DATA),
    Role("4633458b-17de-408a-b874-0445c86b69e6", "Key Vault Secrets User",
         "Read secret contents. Only works for key vaults that use the 'Azure role-based access control' permission "
         "model.", data_actions=("Microsoft.KeyVault/vaults/secrets/getSecret/action",
                                 "Microsoft.KeyVault/vaults/secrets/readMetadata/action")),
)

_BY_GUID = {r.guid: r for r in ROLES}


def by_guid(guid: str) -> Optional[Role]:
    return _BY_GUID.get(guid.lower())


def by_name(name: str) -> Optional[Role]:
    """ARM's ``roleName eq '…'`` filter: exact names, case-insensitive."""
    return next((r for r in ROLES if r.name.lower() == name.lower()), None)


def definition_json(role: Role, scope: str) -> dict[str, Any]:
    """A built-in role as ``GET {scope}/providers/Microsoft.Authorization/roleDefinitions/{id}`` returns it.

    Read below a subscription, a built-in role's id is the subscription's (as ARM answers);
    at the root it has no prefix.
    """
    parts = [p for p in scope.split("/") if p]
    prefix = f"/subscriptions/{parts[1]}" if len(parts) >= 2 and parts[0].lower() == "subscriptions" else ""
    return {
        "id": f"{prefix}/providers/Microsoft.Authorization/roleDefinitions/{role.guid}",
        "type": "Microsoft.Authorization/roleDefinitions", "name": role.guid,
        "properties": {
            "roleName": role.name, "type": "BuiltInRole", "description": role.description,
            "assignableScopes": ["/"], "permissions": role.permissions(),
        },
    }
