"""An emulated AKS Kubernetes API server (one instance per emulated cluster).

It is a :data:`wif_sandbox.wire.Handler`: put it behind ``httpd.HttpsServer``
(``client_certs=True`` so admin kubeconfigs can use client certificates, and
``operation_of=server.operation_of`` so injected faults are logged under the
right operation) and the real ``kubernetes`` client and ``kubectl`` 1.32 work
against it unchanged: get/list/apply (client- and server-side)/patch/delete,
``create token``, ``auth can-i``/``whoami``, ``--as`` impersonation.

Construction::

    server = KubeApiServer(
        "hub",
        issuer="https://127.0.0.1:8443/oidc/hub/",   # the cluster's OIDC issuer URL
        sa_key=pki.SigningKey.generate(),            # signs TokenRequest tokens
        authenticate_bearer=entra.authenticate,      # str -> UserInfo | None (Entra tokens)
        azure_rbac=None,                             # or (UserInfo, Attributes) -> bool
        clock=time.time,                             # creation times and token iat/exp
    )
    server.handle(request) -> wire.Response    # also callable: server(request)
    server.operation_of(request) -> str       # "secrets.create", "serviceaccounts/token.create", ...
    server.jwks() -> dict                     # serve at <issuer>openid/v1/jwks
    server.put_object(obj) -> dict            # admin create-or-replace, no auth (creates the namespace)
    server.get_object(api_version, kind, ns, name) -> dict | None
    server.list_objects(api_version, kind, ns=None) -> list[dict]
    server.authenticate_token(token) -> UserInfo | None
    server.decide(user, attributes, path="") -> (allowed, reason)   # what SubjectAccessReview answers

Authentication: TLS client certificate (CN = user, O = groups), then bearer
tokens this server minted (service-account tokens whose ``aud`` contains the
issuer, while the service account still exists), then ``authenticate_bearer``;
anything else is a 401. Authorization: ``system:masters``, then Kubernetes
RBAC, then ``azure_rbac`` when given (AKS with Azure RBAC: allowed if either
allows). Request bodies may be JSON, YAML or Kubernetes protobuf; responses
are JSON (or ``meta.k8s.io`` Tables when kubectl asks for them).

Seeded like a fresh cluster: namespaces ``default``, ``kube-system``,
``kube-public``, ``kube-node-lease``; ClusterRoles ``cluster-admin``, ``admin``,
``edit``, ``view`` and the system roles and bindings for discovery and
self-reviews.
"""
from wif_sandbox.kube.api import KubeApiServer
from wif_sandbox.kube.auth import Attributes, TokenSigner, UserInfo

__all__ = ["Attributes", "KubeApiServer", "TokenSigner", "UserInfo"]
