// Deployed into the resource group of the Argo CD managed identity (ours or an
// existing one): lets the function write federated credentials on that one
// identity, and reads the identity's ids for the app settings and conditions.

@description('Name of the Argo CD user-assigned identity (must exist in this resource group).')
param identityName string

@description('Principal (object) id of the function app identity.')
param functionPrincipalId string

var managedIdentityContributor = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'e40ec5ca-96e0-45a2-b4ff-59039f2c2b59')

resource argoCdIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: identityName
}

// why: the federate step creates, reads and deletes federatedIdentityCredentials on the Argo CD
// identity (one per Argo CD service account and issuer). No narrower built-in role carries
// federatedIdentityCredentials/write, so Managed Identity Contributor is scoped to this one
// identity resource, never to its resource group or subscription.
resource federationWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(argoCdIdentity.id, functionPrincipalId, managedIdentityContributor)
  scope: argoCdIdentity
  properties: {
    roleDefinitionId: managedIdentityContributor
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    description: 'aks-argocd-wif: write federated identity credentials on the Argo CD identity only'
  }
}

output id string = argoCdIdentity.id
output clientId string = argoCdIdentity.properties.clientId
output principalId string = argoCdIdentity.properties.principalId
output tenantId string = argoCdIdentity.properties.tenantId
