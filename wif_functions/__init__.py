"""The Azure Functions face of aks-argocd-wif: thin glue between triggers and ``wif_core``.

Cold start matters: no module here imports ``wif_core`` (its ARM-id regexes
cost ~35 ms to compile), the Azure SDKs or ``kubernetes`` at import time.
Each function imports what it needs when it first runs.
"""
