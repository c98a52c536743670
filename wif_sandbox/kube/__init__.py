"""An emulated AKS Kubernetes API server (one instance per emulated cluster).

It is a :data:`wif_sandbox.wire.Handler`: put it behind ``httpd.HttpsServer``
(with ``client_certs=True`` so admin kubeconfigs can use client certificates)
and the real ``kubernetes`` client and ``kubectl`` work against it unchanged.

Construction::

    server = KubeApiServer(
        "hub",
        issuer="https://127.0.0.1:8443/oidc/hub/",   # the cluster's OIDC issuer URL
        sa_key=pki.SigningKey.generate(),            # signs TokenRequest tokens
        authenticate_bearer=entra.authenticate,      # str -> UserInfo | None (Entra tokens)
        azure_rbac=None,                             # or (UserInfo, Attributes) -> bool
        clock=time.time,
    )
    server.handle(request) -> wire.Response
    server.jwks() -> dict                     # serve at <issuer>openid/v1/jwks
    server.put_object(obj) / get_object(api_version, kind, ns, name) / list_objects(...)

Authentication: TLS client certificate (CN = user, O = groups), then bearer
tokens this server minted (service-account tokens, ``aud`` must contain the
issuer), then ``authenticate_bearer``. Authorization: Kubernetes RBAC, or-ed
with ``azure_rbac`` when given (AKS with Azure RBAC checks both). The
``system:masters`` group may do anything.

Seeded: namespaces ``default``, ``kube-system``, ``kube-public``; ClusterRoles
``cluster-admin``, ``admin``, ``edit``, ``view``.
"""
from wif_sandbox.kube.api import KubeApiServer
from wif_sandbox.kube.auth import Attributes, TokenSigner, UserInfo

__all__ = ["Attributes", "KubeApiServer", "TokenSigner", "UserInfo"]
