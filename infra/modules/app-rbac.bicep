// Role assignments inside the app's own resource group: the function identity
// on its storage and Application Insights, and the Event Grid system topic's
// identity on the dead-letter container.

@description('Principal (object) id of the function app identity.')
param functionPrincipalId string

@description('Storage account name.')
param storageAccountName string

@description('Dead-letter blob container name.')
param deadLetterContainerName string

@description('Application Insights component name.')
param applicationInsightsName string

@description('Principal id of the Event Grid system topic identity; empty: no dead-letter grant here.')
param eventGridPrincipalId string = ''

var storageBlobDataOwner = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b')
var storageBlobDataContributor = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
var storageQueueDataContributor = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '974c5e8b-45b9-4653-ba55-5f855dd0fb88')
var storageTableDataContributor = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3')
var monitoringMetricsPublisher = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '3913510d-42f4-4e42-8a64-420c390055eb')

resource storage 'Microsoft.Storage/storageAccounts@2026-04-01' existing = {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2026-04-01' existing = {
  parent: storage
  name: 'default'
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-04-01' existing = {
  parent: blobService
  name: deadLetterContainerName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// why: the Functions host keeps its locks, timers and the Flex deployment package in blobs, and
// Durable Functions keeps task-hub leases and large messages there; with shared keys off the
// host needs a data role, and Functions documents Blob Data Owner (leases + container create).
resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionPrincipalId, storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: storageBlobDataOwner
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    description: 'aks-argocd-wif: Functions host + Durable task hub blobs, Flex deployment package'
  }
}

// why: Durable Functions dispatches orchestrations and activities through storage queues
// (control and work-item queues); the identity must read, write and delete messages.
resource queueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionPrincipalId, storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: storageQueueDataContributor
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    description: 'aks-argocd-wif: Durable Functions control and work-item queues'
  }
}

// why: Durable Functions keeps orchestration history and instance state in storage tables.
resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionPrincipalId, storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: storageTableDataContributor
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    description: 'aks-argocd-wif: Durable Functions history and instance tables'
  }
}

// why: Application Insights has local (key) auth disabled; publishing telemetry with Entra ID
// requires Monitoring Metrics Publisher on the component, and nothing broader.
resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, functionPrincipalId, monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: monitoringMetricsPublisher
    principalId: functionPrincipalId
    principalType: 'ServicePrincipal'
    description: 'aks-argocd-wif: Entra-authenticated telemetry'
  }
}

// why: Event Grid dead-letters undeliverable cluster events with the system topic's own identity
// (deadLetterWithResourceIdentity; shared keys are off); it needs blob write on that one container only.
resource deadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(eventGridPrincipalId)) {
  name: guid(deadLetterContainer.id, eventGridPrincipalId, storageBlobDataContributor)
  scope: deadLetterContainer
  properties: {
    roleDefinitionId: storageBlobDataContributor
    principalId: eventGridPrincipalId
    principalType: 'ServicePrincipal'
    description: 'aks-argocd-wif: Event Grid dead-letter destination'
  }
}
