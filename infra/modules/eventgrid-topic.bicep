// The Event Grid system topic for this subscription's Azure Resource Manager
// events, created with a system-assigned identity (used for dead-lettering).
// Azure allows one system topic per source: when the subscription already has
// one, pass its id as existingSystemTopicId and this module only reads it
// (it must have a system-assigned identity: az eventgrid system-topic update
// --identity systemassigned). The event subscription itself is stage 2
// (infra/eventgrid.bicep), created after the function code is deployed.

@description('System topic name.')
param name string

@description('Create the topic (true) or read an existing one of that name in this resource group (false).')
param create bool = true

@description('Tags applied to a created topic.')
param tags object = {}

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = if (create) {
  name: name
  location: 'global'
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: subscription().id
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}

resource existingTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = if (!create) {
  name: name
}

output name string = name
output resourceGroupName string = resourceGroup().name
output principalId string = create ? topic.identity.principalId : existingTopic.identity.principalId
