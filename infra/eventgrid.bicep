// aks-argocd-wif, stage 2: the event subscription that feeds AKS cluster writes
// and deletes to the on_cluster_event function.
//
// Why a second stage: an Event Grid subscription to an Azure Function is
// validated when it is created, and Event Grid needs the function
// (<site>/functions/on_cluster_event) to exist. During `azd provision` the app
// is empty: its functions appear only after `azd deploy` uploads the code.
// infra/hooks/postdeploy.{sh,ps1} waits for the function to be indexed, then
// deploys this file into the system topic's resource group (main.bicep outputs
// the names). Re-running it is idempotent.

@description('Name of the Event Grid system topic (Microsoft.Resources.Subscriptions) in this resource group.')
param systemTopicName string

@description('Resource id of the function app (Microsoft.Web/sites).')
param functionAppId string

@description('Name of the Event Grid-triggered function in function_app.py.')
param functionName string = 'on_cluster_event'

@description('Resource id of the storage account holding the dead-letter container.')
param deadLetterStorageAccountId string

@description('Blob container receiving events that could not be delivered.')
param deadLetterContainerName string = 'eventgrid-deadletter'

@description('Event subscription name.')
param eventSubscriptionName string = 'aks-argocd-wif'

@description('Delivery attempts before an event is dead-lettered (Event Grid maximum: 30).')
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 30

@description('Minutes an event is retried before it is dead-lettered (Event Grid maximum: 1440).')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 1440

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: systemTopicName
}

resource clusterEvents 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: systemTopic
  name: eventSubscriptionName
  properties: {
    // AzureFunction delivery: Event Grid fetches the function's key itself, so no
    // key lands in a template, an app setting or the azd environment.
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${functionAppId}/functions/${functionName}'
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Resources.ResourceWriteSuccess'
        'Microsoft.Resources.ResourceDeleteSuccess'
      ]
      // Only the cluster itself: agent pools, extensions, maintenance configurations and
      // every other resource in the subscription are dropped before they cost an execution.
      // The values are wif_core.events WRITE_OPERATION / DELETE_OPERATION (tests/infra checks).
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.operationName'
          values: [
            'Microsoft.ContainerService/managedClusters/write'
            'Microsoft.ContainerService/managedClusters/delete'
          ]
        }
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    // Dead-lettered with the topic's system-assigned identity (shared keys are off);
    // main.bicep grants it Storage Blob Data Contributor on this container only.
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterStorageAccountId
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

output eventSubscriptionId string = clusterEvents.id
