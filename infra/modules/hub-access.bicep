// Deployed into the resource group of the hub cluster (the AKS cluster running
// Argo CD): lets the function read that cluster and fetch its user kubeconfig.
// What the function may do inside the hub is Kubernetes RBAC, shipped as
// infra/kubernetes/hub-rbac.yaml (Secrets in the Argo CD namespace, TokenRequest
// for the Argo CD service accounts only).

@description('Name of the hub AKS cluster (must exist in this resource group).')
param hubClusterName string

@description('Principal (object) id of the function app identity.')
param functionPrincipalId string

var reader = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'acdd72a7-3385-48ef-bd42-f606fba81ae7')
var aksClusterUser = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4abbcc35-e782-43d8-92c5-2d3f1bd2253f')

resource hub 'Microsoft.ContainerService/managedClusters@2024-09-01' existing = {
  name: hubClusterName
}

// why: federate needs the hub's OIDC issuer URL, and register needs its API server address;
// both come from a GET of the cluster resource (managedClusters/read), scoped to the hub only.
resource hubReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hub.id, functionPrincipalId, reader)
  scope: hub
  properties: {
    roleDefinitionId: reader
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    description: 'aks-argocd-wif: read the hub cluster (OIDC issuer, API server)'
  }
}

// why: writing the Argo CD cluster Secret and minting TokenRequests for the Argo CD service
// accounts goes through the hub's API server; listClusterUserCredential gives the Entra-only
// kubeconfig (no static credential), and hub-rbac.yaml decides what that identity may do.
resource hubUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hub.id, functionPrincipalId, aksClusterUser)
  scope: hub
  properties: {
    roleDefinitionId: aksClusterUser
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    description: 'aks-argocd-wif: Entra kubeconfig for the hub cluster'
  }
}
