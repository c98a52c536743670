// The function app's storage: AzureWebJobsStorage (blob + queue + table, all
// three used by Durable Functions), the Flex Consumption deployment package
// container, and the Event Grid dead-letter container.
// Shared keys are off: every client (Functions host, Durable task hub, Flex
// deployment, Event Grid dead-lettering) authenticates with Entra ID.

@description('Storage account name (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region.')
param location string

@description('Tags applied to the account.')
param tags object = {}

@description('Blob container holding the Flex Consumption deployment package.')
param deploymentContainerName string

@description('Blob container Event Grid writes undeliverable events to.')
param deadLetterContainerName string

resource storage 'Microsoft.Storage/storageAccounts@2026-04-01' = {
  //checkov:skip=CKV_AZURE_35: no VNet in this template, so the Functions host and Event Grid reach storage over its public endpoint; shared keys are off and every caller needs an Entra data role. README: VNet integration + private endpoints close it.
  //checkov:skip=CKV_AZURE_59: same cause as CKV_AZURE_35: Flex Consumption without VNet integration reaches AzureWebJobsStorage over the public endpoint (blob public access itself is off).
  //checkov:skip=CKV_AZURE_206: LRS on purpose: the account holds a rebuildable deployment package and Durable task-hub state that re-running onboarding (idempotent) re-creates; a geo-replica would not move the function app.
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    dnsEndpointType: 'Standard'
    minimumTlsVersion: 'TLS1_2'
    publicNetworkAccess: 'Enabled'
    supportsHttpsTrafficOnly: true
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2026-04-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-04-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-04-01' = {
  parent: blobService
  name: deadLetterContainerName
  properties: {
    publicAccess: 'None'
  }
}

output id string = storage.id
output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
output deploymentContainerName string = deploymentContainer.name
output deadLetterContainerName string = deadLetterContainer.name
