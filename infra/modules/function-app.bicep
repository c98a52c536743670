// Flex Consumption (FC1) Function App, Python, Linux.
// Runtime and deployment live in functionAppConfig (not in app settings:
// FUNCTIONS_WORKER_RUNTIME / FUNCTIONS_EXTENSION_VERSION are rejected on Flex).
// Storage and Application Insights are reached with the user-assigned identity.

@description('Function app name.')
param name string

@description('Flex Consumption plan name.')
param planName string

@description('Azure region (must offer Flex Consumption).')
param location string

@description('Tags applied to plan and app.')
param tags object = {}

@description('azd service name this app hosts (azure.yaml services key).')
param serviceName string = 'api'

@description('Python version of the Flex Consumption runtime.')
@allowed([
  '3.11'
  '3.12'
])
param pythonVersion string = '3.11'

@description('Memory per instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Upper bound on scale-out instances.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of that identity (AzureWebJobsStorage__clientId, AZURE_CLIENT_ID).')
param identityClientId string

@description('Storage account name (AzureWebJobsStorage, deployment package).')
param storageAccountName string

@description('Blob container holding the deployment package.')
param deploymentContainerName string

@description('Application Insights connection string.')
param applicationInsightsConnectionString string

@description('The wif_core settings (WIF_*, AZURE_AUTHORITY_HOST), merged with the platform settings below.')
param appSettings object

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  //checkov:skip=CKV_AZURE_225: Flex Consumption zone redundancy exists only in some regions; onboarding is idempotent and Event Grid retries delivery for 24 h, so a zone outage delays registration, it loses nothing.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

// Built from the name, not read from the account, so the settings list below is
// known when the deployment starts (Bicep requires that of a for-expression).
var blobEndpoint = 'https://${storageAccountName}.blob.${environment().suffixes.storage}/'
var queueEndpoint = 'https://${storageAccountName}.queue.${environment().suffixes.storage}/'
var tableEndpoint = 'https://${storageAccountName}.table.${environment().suffixes.storage}/'

// Platform settings: identity-based storage for the Functions host and the
// Durable Functions task hub (blob + queue + table), and Entra-authenticated telemetry.
var platformSettings = {
  AZURE_CLIENT_ID: identityClientId
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: blobEndpoint
  AzureWebJobsStorage__queueServiceUri: queueEndpoint
  AzureWebJobsStorage__tableServiceUri: tableEndpoint
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

resource site 'Microsoft.Web/sites@2025-03-01' = {
  //checkov:skip=CKV_AZURE_222: Event Grid push delivery cannot reach a private endpoint, so the app must stay publicly reachable; every HTTP route needs a function key (auth level FUNCTION) and the Event Grid endpoint its system key.
  //checkov:skip=CKV_AZURE_17: Event Grid does not present client certificates; callers authenticate with function keys over TLS 1.2.
  //checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero by design; always-ready instances would bill around the clock for an app that runs once per cluster change.
  //checkov:skip=CKV_AZURE_213: Flex Consumption has no App Service health-check routing (no load-balanced fixed instances); the platform recycles unhealthy hosts.
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': serviceName
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [for setting in items(union(appSettings, platformSettings)): {
        name: setting.key
        value: setting.value
      }]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
}

// azd deploys to Flex Consumption with Entra ID (OneDeploy); basic
// (publishing-profile) credentials are never needed, so they are switched off.
resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output id string = site.id
output name string = site.name
output defaultHostName string = site.properties.defaultHostName
