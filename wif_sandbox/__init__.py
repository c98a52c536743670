"""Local emulators of Azure ARM, Entra ID and AKS API servers over real HTTPS.

A developer tool in the spirit of Azurite: the unmodified Azure SDKs,
``azure-identity``, the ``kubernetes`` client and ``kubectl`` talk to it,
pointed only by endpoint and CA-bundle settings. Start it with
``python -m wif_sandbox serve`` or, in Python, ``world.Sandbox.start()``.
Never part of the deployed function package.
"""
