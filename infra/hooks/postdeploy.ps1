# azd postdeploy hook (Windows / PowerShell): stage 2 of `azd up`.
# Same steps as postdeploy.sh: wait for the Event Grid function to be indexed,
# deploy infra/eventgrid.bicep, render the hub manifests into .azure/<env>/.
$ErrorActionPreference = 'Stop'

$infra = Split-Path -Parent $PSScriptRoot
$functionName = if ($env:WIF_EVENTGRID_FUNCTION_NAME) { $env:WIF_EVENTGRID_FUNCTION_NAME } else { 'on_cluster_event' }
$indexTimeout = if ($env:WIF_INDEX_TIMEOUT_SECONDS) { [int]$env:WIF_INDEX_TIMEOUT_SECONDS } else { 600 }

foreach ($name in 'AZURE_ENV_NAME', 'AZURE_RESOURCE_GROUP', 'AZURE_FUNCTION_APP_NAME', 'AZURE_FUNCTION_APP_ID',
    'EVENTGRID_SYSTEM_TOPIC_NAME', 'EVENTGRID_SYSTEM_TOPIC_RESOURCE_GROUP', 'DEADLETTER_STORAGE_ACCOUNT_ID',
    'DEADLETTER_CONTAINER_NAME', 'FUNCTION_PRINCIPAL_ID', 'ARGOCD_IDENTITY_CLIENT_ID', 'AZURE_TENANT_ID', 'ARGOCD_NAMESPACE') {
    if (-not [Environment]::GetEnvironmentVariable($name)) {
        throw "postdeploy: $name is not set; run 'azd provision' first (it is a main.bicep output)"
    }
}
if (-not (Get-Command az -ErrorAction SilentlyContinue)) {
    throw "postdeploy: the Azure CLI (az) is needed for stage 2; install it, then run 'azd hooks run postdeploy'"
}

# 1. wait for the function to be indexed (poll with a deadline)
Write-Host "postdeploy: waiting for $($env:AZURE_FUNCTION_APP_NAME)/$functionName (up to ${indexTimeout}s)"
$deadline = (Get-Date).AddSeconds($indexTimeout)
while ($true) {
    az functionapp function show --resource-group $env:AZURE_RESOURCE_GROUP --name $env:AZURE_FUNCTION_APP_NAME `
        --function-name $functionName --output none 2>$null
    if ($LASTEXITCODE -eq 0) { break }
    if ((Get-Date) -ge $deadline) {
        throw "postdeploy: $functionName did not appear in ${indexTimeout}s. Check Application Insights (did function_app.py import?), then run 'azd hooks run postdeploy'."
    }
    Start-Sleep -Seconds 10
}

# 2. the event subscription
Write-Host "postdeploy: creating the Event Grid subscription on $($env:EVENTGRID_SYSTEM_TOPIC_NAME)"
az deployment group create `
    --name "aks-argocd-wif-eventgrid-$($env:AZURE_ENV_NAME)" `
    --resource-group $env:EVENTGRID_SYSTEM_TOPIC_RESOURCE_GROUP `
    --template-file (Join-Path $infra 'eventgrid.bicep') `
    --parameters `
        "systemTopicName=$($env:EVENTGRID_SYSTEM_TOPIC_NAME)" `
        "functionAppId=$($env:AZURE_FUNCTION_APP_ID)" `
        "functionName=$functionName" `
        "deadLetterStorageAccountId=$($env:DEADLETTER_STORAGE_ACCOUNT_ID)" `
        "deadLetterContainerName=$($env:DEADLETTER_CONTAINER_NAME)" `
    --output none
if ($LASTEXITCODE -ne 0) { throw "postdeploy: infra/eventgrid.bicep failed (exit $LASTEXITCODE)" }

# 3. Kubernetes manifests for the hub
$out = Join-Path '.azure' $env:AZURE_ENV_NAME
New-Item -ItemType Directory -Force -Path $out | Out-Null
function Render([string]$source, [string]$target) {
    (Get-Content -Raw $source).
        Replace('${FUNCTION_PRINCIPAL_ID}', $env:FUNCTION_PRINCIPAL_ID).
        Replace('${WIF_ARGOCD_NAMESPACE}', $env:ARGOCD_NAMESPACE).
        Replace('${ARGOCD_IDENTITY_CLIENT_ID}', $env:ARGOCD_IDENTITY_CLIENT_ID).
        Replace('${AZURE_TENANT_ID}', $env:AZURE_TENANT_ID) | Set-Content -NoNewline $target
}
Render (Join-Path $infra 'kubernetes/hub-rbac.yaml') (Join-Path $out 'hub-rbac.yaml')
Render (Join-Path $infra 'kubernetes/argocd-values-wif.yaml') (Join-Path $out 'argocd-values-wif.yaml')

if ($env:WIF_APPLY_HUB_RBAC -eq 'true') {
    Write-Host "postdeploy: applying $out/hub-rbac.yaml with the current kubectl context"
    kubectl apply -f (Join-Path $out 'hub-rbac.yaml')
    if ($LASTEXITCODE -ne 0) { throw "postdeploy: kubectl apply failed (exit $LASTEXITCODE)" }
}

Write-Host @"

aks-argocd-wif is wired: new AKS clusters in this subscription now reach $($env:AZURE_FUNCTION_APP_NAME).
Two steps on the hub cluster remain yours (see infra/README.md, "After azd up"):
  kubectl apply -f $out/hub-rbac.yaml          # skipped unless WIF_APPLY_HUB_RBAC=true
  helm upgrade argocd argo/argo-cd -n $($env:ARGOCD_NAMESPACE) --reuse-values -f $out/argocd-values-wif.yaml
"@
