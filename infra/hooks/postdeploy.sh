#!/bin/sh
# azd postdeploy hook: stage 2 of `azd up`.
#
# 1. Wait until the deployed code has been indexed and the Event Grid function
#    (on_cluster_event) exists: Event Grid validates an AzureFunction endpoint
#    when the subscription is created, so infra/eventgrid.bicep cannot run earlier.
# 2. Deploy infra/eventgrid.bicep (the event subscription) into the system topic's
#    resource group. Idempotent: re-running `azd deploy` re-applies it unchanged.
# 3. Render the Kubernetes pieces with this environment's ids into .azure/<env>/:
#    hub-rbac.yaml (what the function may do on the hub) and argocd-values-wif.yaml
#    (workload identity for Argo CD). Applied only when WIF_APPLY_HUB_RBAC=true.
#
# azd exports the main.bicep outputs as environment variables before running hooks.
# POSIX sh on purpose: azd's `shell: sh` may run it with dash.
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
infra="$(dirname "$here")"
function_name="${WIF_EVENTGRID_FUNCTION_NAME:-on_cluster_event}"
index_timeout="${WIF_INDEX_TIMEOUT_SECONDS:-600}"

need() {
  eval "value=\${$1:-}"
  if [ -z "$value" ]; then
    echo "postdeploy: $1 is not set; run 'azd provision' first (it is a main.bicep output)" >&2
    exit 1
  fi
}
for name in AZURE_ENV_NAME AZURE_RESOURCE_GROUP AZURE_FUNCTION_APP_NAME AZURE_FUNCTION_APP_ID \
  EVENTGRID_SYSTEM_TOPIC_NAME EVENTGRID_SYSTEM_TOPIC_RESOURCE_GROUP DEADLETTER_STORAGE_ACCOUNT_ID \
  DEADLETTER_CONTAINER_NAME FUNCTION_PRINCIPAL_ID ARGOCD_IDENTITY_CLIENT_ID AZURE_TENANT_ID ARGOCD_NAMESPACE; do
  need "$name"
done
if ! command -v az >/dev/null 2>&1; then
  echo "postdeploy: the Azure CLI (az) is needed for stage 2; install it, then run 'azd hooks run postdeploy'" >&2
  exit 1
fi

# --- 1. wait for the function to be indexed (poll with a deadline) ------------
echo "postdeploy: waiting for ${AZURE_FUNCTION_APP_NAME}/${function_name} (up to ${index_timeout}s)"
deadline=$(( $(date +%s) + index_timeout ))
until az functionapp function show --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
  --function-name "$function_name" --output none 2>/dev/null; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "postdeploy: ${function_name} did not appear in ${index_timeout}s. Check the deployment in Application" >&2
    echo "  Insights (did function_app.py import?), then run 'azd hooks run postdeploy'." >&2
    exit 1
  fi
  sleep 10
done

# --- 2. the event subscription -------------------------------------------------
echo "postdeploy: creating the Event Grid subscription on ${EVENTGRID_SYSTEM_TOPIC_NAME}"
az deployment group create \
  --name "aks-argocd-wif-eventgrid-${AZURE_ENV_NAME}" \
  --resource-group "$EVENTGRID_SYSTEM_TOPIC_RESOURCE_GROUP" \
  --template-file "$infra/eventgrid.bicep" \
  --parameters \
    systemTopicName="$EVENTGRID_SYSTEM_TOPIC_NAME" \
    functionAppId="$AZURE_FUNCTION_APP_ID" \
    functionName="$function_name" \
    deadLetterStorageAccountId="$DEADLETTER_STORAGE_ACCOUNT_ID" \
    deadLetterContainerName="$DEADLETTER_CONTAINER_NAME" \
  --output none

# --- 3. Kubernetes manifests for the hub ---------------------------------------
out=".azure/${AZURE_ENV_NAME}"
mkdir -p "$out"
render() {
  # Values are GUIDs and DNS labels: safe inside a sed replacement.
  sed -e "s|\${FUNCTION_PRINCIPAL_ID}|${FUNCTION_PRINCIPAL_ID}|g" \
      -e "s|\${WIF_ARGOCD_NAMESPACE}|${ARGOCD_NAMESPACE}|g" \
      -e "s|\${ARGOCD_IDENTITY_CLIENT_ID}|${ARGOCD_IDENTITY_CLIENT_ID}|g" \
      -e "s|\${AZURE_TENANT_ID}|${AZURE_TENANT_ID}|g" \
      "$1" > "$2"
}
render "$infra/kubernetes/hub-rbac.yaml" "$out/hub-rbac.yaml"
render "$infra/kubernetes/argocd-values-wif.yaml" "$out/argocd-values-wif.yaml"

if [ "${WIF_APPLY_HUB_RBAC:-false}" = "true" ]; then
  echo "postdeploy: applying $out/hub-rbac.yaml with the current kubectl context ($(kubectl config current-context))"
  kubectl apply -f "$out/hub-rbac.yaml"
fi

cat <<EOF

aks-argocd-wif is wired: new AKS clusters in this subscription now reach ${AZURE_FUNCTION_APP_NAME}.
Two steps on the hub cluster remain yours (see infra/README.md, "After azd up"):
  kubectl apply -f $out/hub-rbac.yaml          # skipped unless WIF_APPLY_HUB_RBAC=true
  helm upgrade argocd argo/argo-cd -n ${ARGOCD_NAMESPACE} --reuse-values -f $out/argocd-values-wif.yaml
EOF
