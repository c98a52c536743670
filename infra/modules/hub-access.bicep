// Deployed into the resource group of the hub cluster (the AKS cluster running
// Argo CD): lets the function read that cluster and fetch its user kubeconfig.
// What the function may do inside the hub is Kubernetes RBAC, shipped as
// infra/kubernetes/hub-rbac.yaml (Secrets in the Argo CD namespace, TokenRequest
// for the Argo CD service accounts only).

@description('Name of the hub AKS cluster (must exist in this resource group).')
param hubClusterName string

@description('Principal (object) id of the function app identity.')
param functionPrincipalId string

var aksClusterUser = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4abbcc35-e782-43d8-92c5-2d3f1bd2253f')

// 2026-01-01: the AKS api-version wif_core pins (wif_core.adapters.azure.AKS_API_VERSION) and the
// sandbox serves; newer stable versions exist (check.py --notes).
resource hub 'Microsoft.ContainerService/managedClusters@2026-01-01' existing = {
  name: hubClusterName
}

// why: federate needs the hub's OIDC issuer URL and register its API server address, both from a
// GET of the cluster (managedClusters/read); writing the Argo CD cluster Secret and minting
// TokenRequests for the Argo CD service accounts goes through the hub's API server with the
// Entra-only kubeconfig (managedClusters/listClusterUserCredential/action, no static credential).
// The built-in Cluster User role carries exactly those two actions (Azure built-in roles,
// containers.md), so no Reader is granted on the hub; hub-rbac.yaml decides what the identity
// may do inside it.
resource hubUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hub.id, functionPrincipalId, aksClusterUser)
  scope: hub
  properties: {
    roleDefinitionId: aksClusterUser
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    description: 'aks-argocd-wif: read the hub cluster and its Entra kubeconfig'
  }
}
