# azd predown hook (Windows / PowerShell): same as predown.sh. Removes the role
# assignments held by this deployment's function identity outside the resource
# group, and the two custom roles (run command, federated credentials), before
# `azd down` deletes the group.
$ErrorActionPreference = 'Stop'

if (-not $env:FUNCTION_PRINCIPAL_ID) {
    Write-Host 'predown: FUNCTION_PRINCIPAL_ID is not set (never provisioned?); nothing to clean'
    exit 0
}
if (-not (Get-Command az -ErrorAction SilentlyContinue)) {
    Write-Warning "predown: az not found; role assignments of $($env:FUNCTION_PRINCIPAL_ID) outside the resource group stay"
    exit 0
}

Write-Host "predown: removing role assignments held by the function identity $($env:FUNCTION_PRINCIPAL_ID)"
$ids = az role assignment list --assignee $env:FUNCTION_PRINCIPAL_ID --all --query '[].id' --output tsv
foreach ($id in $ids) {
    if ($id) { az role assignment delete --ids $id --output none }
}

if ($env:RUN_COMMAND_ROLE_ID) {
    $roleName = ($env:RUN_COMMAND_ROLE_ID -split '/')[-1]
    $subscription = if ($env:AZURE_SUBSCRIPTION_ID) { $env:AZURE_SUBSCRIPTION_ID } else { az account show --query id -o tsv }
    Write-Host "predown: removing the custom run-command role $roleName"
    az role definition delete --name $roleName --scope "/subscriptions/$subscription" --output none
}

if ($env:FEDERATION_ROLE_ID -and $env:ARGOCD_IDENTITY_ID) {
    # Assignable only in the Argo CD identity's resource group: az finds it at that scope.
    $roleName = ($env:FEDERATION_ROLE_ID -split '/')[-1]
    $scope = $env:ARGOCD_IDENTITY_ID -replace '/providers/.*$', ''
    Write-Host "predown: removing the custom federated-credential role $roleName"
    az role definition delete --name $roleName --scope $scope --output none
}

Write-Host @'
predown: federated credentials the function wrote on an *existing* Argo CD identity, Argo CD
cluster Secrets on the hub and bindings on registered clusters are not removed by azd down.
Offboard clusters first (DELETE /api/clusters/...) if you want them gone; see infra/README.md.
'@
