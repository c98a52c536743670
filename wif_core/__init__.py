"""aks-argocd-wif core: register AKS clusters into Argo CD with Workload Identity.

Nothing in this package imports ``azure.functions``; only ``wif_core.adapters``
imports Azure management SDKs, ``azure.identity`` or ``kubernetes``.
"""

__version__ = "0.1.0"
