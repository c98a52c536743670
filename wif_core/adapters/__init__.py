"""The real adapters of ``wif_core.ports``: the only modules importing the Azure SDKs and ``kubernetes``.

``bootstrap.build(settings)`` wires them; every SDK error leaves them as one of the
project's error types (``errors_map``), after a few quick retries (``retrying``).
Import the modules, not names: ``from wif_core.adapters import bootstrap``.
"""
