// Deployed once per allowed scope that is a resource group
// (WIF_ALLOWED_SCOPES entry /subscriptions/<id>/resourceGroups/<name>).
// Keep in step with scope-access-subscription.bicep: Bicep cannot share one
// file between a resource-group and a subscription target scope.

@description('Principal (object) id of the function app identity.')
param functionPrincipalId string

@description('Principal (object) id of the Argo CD identity: the only principal the function may grant roles to.')
param argoCdPrincipalId string

@description('Grant the custom run-command role (WIF_RUN_COMMAND=true).')
param grantRunCommand bool

@description('GUID of the custom run-command role definition (empty when not granted).')
param runCommandRoleGuid string = ''

@description('Grant Role Based Access Control Administrator, constrained by an ABAC condition (Azure-RBAC clusters).')
param grantAzureRbacAssignments bool

@description('The only role definitions (GUIDs) the function may assign: the four AKS RBAC roles.')
param assignableRoleGuids array

var reader = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'acdd72a7-3385-48ef-bd42-f606fba81ae7')
var aksClusterUser = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4abbcc35-e782-43d8-92c5-2d3f1bd2253f')
var rbacAdministrator = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'f58310d9-a9f6-439a-9e8d-f62e7b41a168')
var runCommandRole = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', empty(runCommandRoleGuid) ? 'none' : runCommandRoleGuid)

// Write/delete of role assignments is allowed only for the AKS RBAC roles and only
// for the Argo CD identity; every other assignment request is denied.
var conditionTemplate = '''
(
 (
  !(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})
 )
 OR
 (
  @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {ROLE_IDS}
  AND
  @Request[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {PRINCIPAL_ID}
 )
)
AND
(
 (
  !(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})
 )
 OR
 (
  @Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {ROLE_IDS}
  AND
  @Resource[Microsoft.Authorization/roleAssignments:PrincipalId] ForAnyOfAnyValues:GuidEquals {PRINCIPAL_ID}
 )
)
'''
var assignmentCondition = replace(replace(conditionTemplate, 'ROLE_IDS', join(assignableRoleGuids, ', ')), 'PRINCIPAL_ID', argoCdPrincipalId)

// why: on Azure-RBAC clusters bind, plan and deregister read the role assignment they may have
// made on each cluster (Microsoft.Authorization/roleAssignments/read, also with the assignment
// grant below off), which the Cluster User role does not carry; Reader at the scopes clusters
// live in does. Reading the cluster itself comes with both roles.
resource clusterReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, functionPrincipalId, reader)
  properties: {
    roleDefinitionId: reader
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    description: 'aks-argocd-wif: read AKS clusters in an allowed scope'
  }
}

// why: discover GETs each new cluster (provisioningState, OIDC issuer, aadProfile, API server,
// tags) and takes the CA bundle from its Entra kubeconfig; the built-in Cluster User role carries
// exactly managedClusters/read and managedClusters/listClusterUserCredential/action (Azure
// built-in roles, containers.md). bind/verify then call the API server as the function identity;
// the kubeconfig holds no static credential (Kubernetes rights come from the cluster, see README).
resource clusterUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, functionPrincipalId, aksClusterUser)
  properties: {
    roleDefinitionId: aksClusterUser
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    description: 'aks-argocd-wif: Entra kubeconfig of AKS clusters in an allowed scope'
  }
}

// why: private API servers the function cannot reach are changed through AKS run command;
// the custom role holds only runCommand/action and commandResults/read, and is granted only
// when WIF_RUN_COMMAND is true.
resource runCommand 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantRunCommand) {
  name: guid(resourceGroup().id, functionPrincipalId, runCommandRole)
  properties: {
    roleDefinitionId: runCommandRole
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    description: 'aks-argocd-wif: AKS run command on private clusters'
  }
}

// why: on Azure-RBAC clusters bind creates a role assignment for the Argo CD identity on the
// cluster. The ABAC condition limits the function to assigning or removing the four AKS RBAC
// roles, to the Argo CD identity only; it can grant nothing to itself or anyone else.
resource roleAssigner 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantAzureRbacAssignments) {
  name: guid(resourceGroup().id, functionPrincipalId, rbacAdministrator)
  properties: {
    roleDefinitionId: rbacAdministrator
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    description: 'aks-argocd-wif: assign AKS RBAC roles to the Argo CD identity only'
    conditionVersion: '2.0'
    condition: assignmentCondition
  }
}
