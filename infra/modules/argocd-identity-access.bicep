// Deployed into the resource group of the Argo CD managed identity (ours or an
// existing one): defines a custom role holding only what the function does with
// that identity, assigns it to the function on that one identity resource, and
// reads the identity's ids for the app settings and conditions.

@description('Name of the Argo CD user-assigned identity (must exist in this resource group).')
param identityName string

@description('Principal (object) id of the function app identity.')
param functionPrincipalId string

@description('Makes the custom role unique to this deployment (tenant-wide role names): <environmentName>-<resourceToken>.')
param roleNameSuffix string

// What wif_core.adapters.azure.Identities calls, one action each (names from the
// Microsoft.ManagedIdentity operations in Azure's built-in roles reference, identity.md):
//   get_identity      GET  userAssignedIdentities/{name}                       -> userAssignedIdentities/read
//   list_credentials  GET  .../federatedIdentityCredentials                    -> federatedIdentityCredentials/read
//   put_credential    PUT  .../federatedIdentityCredentials/{credential}       -> federatedIdentityCredentials/write
//   delete_credential DELETE .../federatedIdentityCredentials/{credential}     -> federatedIdentityCredentials/delete
// Managed Identity Contributor (e40ec5ca-96e0-45a2-b4ff-59039f2c2b59), used before, also carries
// userAssignedIdentities/write and /delete (change or delete the Argo CD identity itself),
// userAssignedIdentities/revokeTokens/action (revoke Argo CD's tokens), Microsoft.Resources/deployments/*,
// Microsoft.Insights/alertRules/* and Microsoft.Support/*: none of which the function needs.
var federatedCredentialActions = [
  'Microsoft.ManagedIdentity/userAssignedIdentities/read'
  'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read'
  'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write'
  'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete'
]

resource argoCdIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' existing = {
  name: identityName
}

// Assignable only in this resource group: custom roles take management group, subscription or
// resource group assignable scopes, not a single resource, so the narrowing to the identity
// itself is the assignment's scope below. A role definition is a subscription-level resource
// even when deployed from a resource group (Azure/ResourceModules role-definition/resource-group
// does the same), so the assignment names it with subscriptionResourceId.
resource federationRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'aks-argocd-wif-federated-credentials', roleNameSuffix)
  properties: {
    roleName: 'aks-argocd-wif federated credentials (${roleNameSuffix})'
    description: 'Read one user-assigned identity and read, write and delete its federated identity credentials; nothing else.'
    type: 'CustomRole'
    permissions: [
      {
        actions: federatedCredentialActions
        notActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

var federationRoleId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', federationRole.name)

// why: the federate step lists, creates and deletes federatedIdentityCredentials on the Argo CD
// identity (one per Argo CD service account and issuer) and discover reads the identity's client
// and principal ids. No built-in role holds only that, so the custom role above (those four
// actions) is assigned on this one identity resource, never on its resource group or subscription.
resource federationWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(argoCdIdentity.id, functionPrincipalId, federationRoleId)
  scope: argoCdIdentity
  properties: {
    roleDefinitionId: federationRoleId
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    description: 'aks-argocd-wif: read the Argo CD identity and manage its federated identity credentials only'
  }
}

output id string = argoCdIdentity.id
output clientId string = argoCdIdentity.properties.clientId
output principalId string = argoCdIdentity.properties.principalId
output tenantId string = argoCdIdentity.properties.tenantId
output federationRoleId string = federationRoleId
