#!/bin/sh
# azd predown hook: remove what `azd down` would leave behind.
#
# `azd down` deletes the resource group. Role assignments made outside it (allowed
# scopes, the hub cluster, an existing Argo CD identity) and the custom role
# definitions (run command; federated credentials, in the Argo CD identity's
# resource group) live elsewhere and would stay as orphans ("Identity not found").
# This removes exactly the assignments held by this deployment's function identity,
# then the two custom roles. Nothing held by any other principal is touched.
# POSIX sh on purpose: azd's `shell: sh` may run it with dash.
set -eu

if [ -z "${FUNCTION_PRINCIPAL_ID:-}" ]; then
  echo "predown: FUNCTION_PRINCIPAL_ID is not set (never provisioned?); nothing to clean"
  exit 0
fi
if ! command -v az >/dev/null 2>&1; then
  echo "predown: az not found; role assignments of ${FUNCTION_PRINCIPAL_ID} outside the resource group stay" >&2
  exit 0
fi

echo "predown: removing role assignments held by the function identity ${FUNCTION_PRINCIPAL_ID}"
az role assignment list --assignee "$FUNCTION_PRINCIPAL_ID" --all --query "[].id" --output tsv |
  while read -r id; do
    [ -n "$id" ] && az role assignment delete --ids "$id" --output none
  done

if [ -n "${RUN_COMMAND_ROLE_ID:-}" ]; then
  echo "predown: removing the custom run-command role ${RUN_COMMAND_ROLE_ID##*/}"
  az role definition delete --name "${RUN_COMMAND_ROLE_ID##*/}" \
    --scope "/subscriptions/${AZURE_SUBSCRIPTION_ID:-$(az account show --query id -o tsv)}" --output none || true
fi

if [ -n "${FEDERATION_ROLE_ID:-}" ] && [ -n "${ARGOCD_IDENTITY_ID:-}" ]; then
  # Assignable only in the Argo CD identity's resource group: az finds it at that scope.
  echo "predown: removing the custom federated-credential role ${FEDERATION_ROLE_ID##*/}"
  az role definition delete --name "${FEDERATION_ROLE_ID##*/}" \
    --scope "${ARGOCD_IDENTITY_ID%%/providers/*}" --output none || true
fi

cat <<'NOTE'
predown: federated credentials the function wrote on an *existing* Argo CD identity, Argo CD
cluster Secrets on the hub and bindings on registered clusters are not removed by azd down.
Offboard clusters first (DELETE /api/clusters/...) if you want them gone; see infra/README.md.
NOTE
