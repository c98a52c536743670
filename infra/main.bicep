// aks-argocd-wif, stage 1 (`azd provision`): resource group, identities, storage,
// monitoring, the Flex Consumption function app, the Event Grid system topic and
// every role assignment the function needs. Stage 2 (the event subscription,
// infra/eventgrid.bicep) runs from the postdeploy hook once the function's code,
// and so its Event Grid endpoint, exists. See infra/README.md.
targetScope = 'subscription'

// ---------------------------------------------------------------------------
// Deployment
// ---------------------------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('azd environment name; seeds resource names and the azd-env-name tag.')
param environmentName string

@minLength(1)
@description('Region of the resource group and every regional resource. Must offer Flex Consumption.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group to create; default rg-<environmentName>.')
param resourceGroupName string = ''

@description('Python version of the Flex Consumption runtime.')
@allowed([
  '3.11'
  '3.12'
])
param pythonVersion string = '3.11'

@description('Upper bound on function app instances (Flex Consumption scale-out).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Resource id of an existing user-assigned identity Argo CD uses. Empty: create one in the resource group.')
param argoCdIdentityResourceId string = ''

@description('Resource id of an existing Event Grid system topic for this subscription (Azure allows one). Empty: create one.')
param existingSystemTopicId string = ''

@description('Grant Role Based Access Control Administrator (ABAC-limited to the AKS RBAC roles and the Argo CD identity) at the allowed scopes, needed for Azure-RBAC clusters. Ignored when rbacMode is kubernetes.')
param enableAzureRbacAssignments bool = false

// ---------------------------------------------------------------------------
// wif_core settings: one parameter per app setting, same defaults as
// wif_core.config (tests/infra/test_bicep_structure.py holds them together).
// ---------------------------------------------------------------------------

@description('WIF_HUB_CLUSTER_ID: ARM id of the AKS cluster running Argo CD. Required for topology hub; empty for in-cluster (then no hub roles are granted).')
param hubClusterId string = ''

@description('WIF_ALLOWED_SCOPES: comma list, no spaces, of /subscriptions/<guid> or /subscriptions/<guid>/resourceGroups/<name>. Empty: this subscription. Read and credential roles are granted at each.')
param allowedScopes string = ''

@description('WIF_ARGOCD_NAMESPACE: namespace of Argo CD on the hub.')
param argoCdNamespace string = 'argocd'

@description('WIF_ARGOCD_SERVICE_ACCOUNTS: Argo CD service accounts that talk to clusters.')
param argoCdServiceAccounts string = 'argocd-application-controller,argocd-server'

@description('WIF_TOPOLOGY: hub (one Argo CD, many clusters) or in-cluster.')
@allowed([
  'hub'
  'in-cluster'
])
param topology string = 'hub'

@description('WIF_RBAC_MODE: auto, kubernetes or azure.')
@allowed([
  'auto'
  'kubernetes'
  'azure'
])
param rbacMode string = 'auto'

@description('WIF_CLUSTER_ROLE: ClusterRole bound to the Argo CD identity on Kubernetes-RBAC clusters.')
param clusterRole string = 'cluster-admin'

@description('WIF_AZURE_RBAC_ROLE_ID: AKS RBAC role assigned on Azure-RBAC clusters (one of the four the ABAC condition allows).')
@allowed([
  'b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b'
  '3498e952-d568-435e-9b2c-8d77e338d7f7'
  'a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb'
  '7f6c6a51-bcf8-42ba-9220-52d62157d7db'
])
param azureRbacRoleId string = 'b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b'

@description('WIF_OPT_IN_TAG: key or key=value; when set only clusters carrying the tag are registered.')
param optInTag string = ''

@description('WIF_LABEL_TAGS: comma list of Azure tag names copied into cluster Secret labels.')
param labelTags string = ''

@description('WIF_RUN_COMMAND: reach private clusters through AKS run command. Also decides whether the run-command role is granted.')
@allowed([
  'true'
  'false'
])
param enableRunCommand string = 'true'

@description('WIF_VERIFY: end onboarding with a SubjectAccessReview.')
@allowed([
  'true'
  'false'
])
param verify string = 'true'

@description('WIF_PROVISIONING_TIMEOUT_SECONDS: wait for provisioningState Succeeded.')
param provisioningTimeoutSeconds string = '1800'

@description('WIF_PROPAGATION_TIMEOUT_SECONDS: wait for federation and RBAC propagation.')
param propagationTimeoutSeconds string = '900'

@description('WIF_ARM_ENDPOINT: Azure Resource Manager endpoint (sovereign clouds differ).')
param armEndpoint string = 'https://management.azure.com'

@description('AZURE_AUTHORITY_HOST: Entra ID authority host.')
param authorityHost string = 'https://login.microsoftonline.com'

@description('WIF_AKS_SERVER_APP_ID: application id of the AKS AAD server.')
param aksServerAppId string = '6dae42f8-4368-4678-94ff-3960e28e3630'

@description('WIF_AAD_ENVIRONMENT_NAME: AAD_ENVIRONMENT_NAME given to argocd-k8s-auth.')
param aadEnvironmentName string = 'AzurePublicCloud'

@description('WIF_CLUSTER_NAME_TEMPLATE: Argo CD cluster name template; empty = {name}-{hash}.')
param clusterNameTemplate string = ''

@description('WIF_FEDERATED_TOKEN_FILE: opt-in AZURE_FEDERATED_TOKEN_FILE in the cluster Secret; empty = the workload identity webhook\'s.')
param federatedTokenFile string = ''

@description('WIF_ARGOCD_AUTHORITY_HOST: opt-in AZURE_AUTHORITY_HOST in the cluster Secret; empty = the workload identity webhook\'s.')
param argoCdAuthorityHost string = ''

// ---------------------------------------------------------------------------
// Names and derived values
// ---------------------------------------------------------------------------

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var rgName = empty(resourceGroupName) ? 'rg-${environmentName}' : resourceGroupName
var functionAppName = 'func-wif-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var deadLetterContainerName = 'eventgrid-deadletter'

// Ids are built whole, then split, so an empty parameter never reaches split()[n].
var createArgoCdIdentity = empty(argoCdIdentityResourceId)
var argoCdIdentityId = createArgoCdIdentity ? '/subscriptions/${subscription().subscriptionId}/resourceGroups/${rgName}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-argocd-${resourceToken}' : argoCdIdentityResourceId
var argoCdIdentityParts = split(argoCdIdentityId, '/')

var createSystemTopic = empty(existingSystemTopicId)
var systemTopicId = createSystemTopic ? '/subscriptions/${subscription().subscriptionId}/resourceGroups/${rgName}/providers/Microsoft.EventGrid/systemTopics/evgt-wif-${resourceToken}' : existingSystemTopicId
var systemTopicParts = split(systemTopicId, '/')

var grantHubAccess = !empty(hubClusterId)
var hubParts = split(grantHubAccess ? hubClusterId : '/subscriptions/${subscription().subscriptionId}/resourceGroups/${rgName}/providers/Microsoft.ContainerService/managedClusters/none', '/')
var scopeList = empty(allowedScopes) ? [
  subscription().id
] : split(allowedScopes, ',')

var grantRunCommand = enableRunCommand == 'true'
var grantAzureRbacAssignments = enableAzureRbacAssignments && rbacMode != 'kubernetes'

// The four AKS RBAC roles: Cluster Admin, Admin, Writer, Reader.
var aksRbacRoleGuids = [
  'b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b'
  '3498e952-d568-435e-9b2c-8d77e338d7f7'
  'a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb'
  '7f6c6a51-bcf8-42ba-9220-52d62157d7db'
]

// Every setting wif_core reads, one to one (names: wif_core.config.SETTING_NAMES).
var wifAppSettings = {
  WIF_HUB_CLUSTER_ID: hubClusterId
  WIF_ARGOCD_IDENTITY_ID: argoCdIdentityId
  WIF_ALLOWED_SCOPES: join(scopeList, ',')
  WIF_ARGOCD_NAMESPACE: argoCdNamespace
  WIF_ARGOCD_SERVICE_ACCOUNTS: argoCdServiceAccounts
  WIF_TOPOLOGY: topology
  WIF_RBAC_MODE: rbacMode
  WIF_CLUSTER_ROLE: clusterRole
  WIF_AZURE_RBAC_ROLE_ID: azureRbacRoleId
  WIF_OPT_IN_TAG: optInTag
  WIF_LABEL_TAGS: labelTags
  WIF_RUN_COMMAND: enableRunCommand
  WIF_VERIFY: verify
  WIF_PROVISIONING_TIMEOUT_SECONDS: provisioningTimeoutSeconds
  WIF_PROPAGATION_TIMEOUT_SECONDS: propagationTimeoutSeconds
  WIF_ARM_ENDPOINT: armEndpoint
  AZURE_AUTHORITY_HOST: authorityHost
  WIF_AKS_SERVER_APP_ID: aksServerAppId
  WIF_AAD_ENVIRONMENT_NAME: aadEnvironmentName
  WIF_CLUSTER_NAME_TEMPLATE: clusterNameTemplate
  WIF_FEDERATED_TOKEN_FILE: federatedTokenFile
  WIF_ARGOCD_AUTHORITY_HOST: argoCdAuthorityHost
}

// ---------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------

resource rg 'Microsoft.Resources/resourceGroups@2025-04-01' = {
  name: rgName
  location: location
  tags: tags
}

module functionIdentity 'modules/identity.bicep' = {
  name: 'function-identity'
  scope: rg
  params: {
    name: 'id-func-wif-${resourceToken}'
    location: location
    tags: tags
  }
}

module argoCdIdentityNew 'modules/identity.bicep' = if (createArgoCdIdentity) {
  name: 'argocd-identity'
  scope: rg
  params: {
    name: argoCdIdentityParts[8]
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'stwif${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    deadLetterContainerName: deadLetterContainerName
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-wif-${resourceToken}'
    applicationInsightsName: 'appi-wif-${resourceToken}'
    location: location
    tags: tags
  }
}

module argoCdAccess 'modules/argocd-identity-access.bicep' = {
  name: 'argocd-identity-access-${resourceToken}'
  scope: resourceGroup(argoCdIdentityParts[2], argoCdIdentityParts[4])
  params: {
    identityName: argoCdIdentityParts[8]
    functionPrincipalId: functionIdentity.outputs.principalId
    roleNameSuffix: '${environmentName}-${resourceToken}'
  }
  dependsOn: [
    argoCdIdentityNew
  ]
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-wif-${resourceToken}'
    location: location
    tags: tags
    pythonVersion: pythonVersion
    maximumInstanceCount: maximumInstanceCount
    identityId: functionIdentity.outputs.id
    identityClientId: functionIdentity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: storage.outputs.deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    appSettings: wifAppSettings
  }
  dependsOn: [
    appRbac
    argoCdAccess
  ]
}

module eventGridTopic 'modules/eventgrid-topic.bicep' = {
  name: 'eventgrid-topic-${resourceToken}'
  scope: resourceGroup(systemTopicParts[4])
  params: {
    name: systemTopicParts[8]
    create: createSystemTopic
    tags: tags
  }
  dependsOn: [
    rg
  ]
}

module appRbac 'modules/app-rbac.bicep' = {
  name: 'app-rbac'
  scope: rg
  params: {
    functionPrincipalId: functionIdentity.outputs.principalId
    storageAccountName: storage.outputs.name
    deadLetterContainerName: storage.outputs.deadLetterContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    eventGridPrincipalId: eventGridTopic.outputs.principalId
  }
}

module hubAccess 'modules/hub-access.bicep' = if (grantHubAccess) {
  name: 'hub-access-${resourceToken}'
  scope: resourceGroup(hubParts[2], hubParts[4])
  params: {
    hubClusterName: hubParts[8]
    functionPrincipalId: functionIdentity.outputs.principalId
  }
}

// Least-privilege run command: only the two actions AKS run command needs
// (the built-in AKS Contributor role would also allow managedClusters/write).
resource runCommandRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (grantRunCommand) {
  name: guid(subscription().id, 'aks-argocd-wif-run-command', environmentName)
  properties: {
    roleName: 'aks-argocd-wif run command (${environmentName}-${resourceToken})'
    description: 'Run kubectl on private AKS clusters through AKS run command; nothing else.'
    type: 'CustomRole'
    permissions: [
      {
        actions: [
          'Microsoft.ContainerService/managedClusters/runCommand/action'
          'Microsoft.ContainerService/managedClusters/commandResults/read'
        ]
        notActions: []
      }
    ]
    assignableScopes: scopeList
  }
}

module subscriptionScopeAccess 'modules/scope-access-subscription.bicep' = [for allowedScope in scopeList: if (length(split(allowedScope, '/')) == 3) {
  name: 'wif-access-${resourceToken}-${uniqueString(allowedScope)}'
  scope: subscription(split(allowedScope, '/')[2])
  params: {
    functionPrincipalId: functionIdentity.outputs.principalId
    argoCdPrincipalId: argoCdAccess.outputs.principalId
    grantRunCommand: grantRunCommand
    runCommandRoleGuid: grantRunCommand ? runCommandRole.name : ''
    grantAzureRbacAssignments: grantAzureRbacAssignments
    assignableRoleGuids: aksRbacRoleGuids
  }
}]

module resourceGroupScopeAccess 'modules/scope-access-rg.bicep' = [for allowedScope in scopeList: if (length(split(allowedScope, '/')) == 5) {
  name: 'wif-access-${resourceToken}-${uniqueString(allowedScope)}'
  scope: resourceGroup(split(allowedScope, '/')[2], split(allowedScope, '/')[4])
  params: {
    functionPrincipalId: functionIdentity.outputs.principalId
    argoCdPrincipalId: argoCdAccess.outputs.principalId
    grantRunCommand: grantRunCommand
    runCommandRoleGuid: grantRunCommand ? runCommandRole.name : ''
    grantAzureRbacAssignments: grantAzureRbacAssignments
    assignableRoleGuids: aksRbacRoleGuids
  }
}]

// ---------------------------------------------------------------------------
// Outputs (azd stores them in .azure/<env>/.env; the hooks read them)
// ---------------------------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_ID string = functionApp.outputs.id
output AZURE_FUNCTION_URL string = 'https://${functionApp.outputs.defaultHostName}'
output FUNCTION_CLIENT_ID string = functionIdentity.outputs.clientId
output FUNCTION_PRINCIPAL_ID string = functionIdentity.outputs.principalId
output ARGOCD_IDENTITY_ID string = argoCdAccess.outputs.id
output ARGOCD_IDENTITY_CLIENT_ID string = argoCdAccess.outputs.clientId
output ARGOCD_IDENTITY_PRINCIPAL_ID string = argoCdAccess.outputs.principalId
output ARGOCD_NAMESPACE string = argoCdNamespace
output HUB_CLUSTER_ID string = hubClusterId
output EVENTGRID_SYSTEM_TOPIC_NAME string = eventGridTopic.outputs.name
output EVENTGRID_SYSTEM_TOPIC_RESOURCE_GROUP string = eventGridTopic.outputs.resourceGroupName
output DEADLETTER_STORAGE_ACCOUNT_ID string = storage.outputs.id
output DEADLETTER_CONTAINER_NAME string = storage.outputs.deadLetterContainerName
output RUN_COMMAND_ROLE_ID string = grantRunCommand ? runCommandRole.id : ''
output FEDERATION_ROLE_ID string = argoCdAccess.outputs.federationRoleId
