"""Index function_app.py with the Functions Python worker's own loader (azure-functions-runtime).

Run by tests/functions/test_indexing.py inside a throwaway Python 3.13 venv:
``python worker_index.py APP_DIR`` prints one JSON object: the worker's function metadata.
The gRPC message classes normally come from the host's proxy worker; the loader only builds
them from keyword arguments, so plain stand-ins with the same field names suffice.
"""
import json
import os
import sys
import types


class _Message:
    def __init__(self, **fields):
        self.__dict__.update(fields)


class BindingInfo(_Message):
    # Values of the BindingInfo.Direction and BindingInfo.DataType enums in FunctionRpc.proto.
    in_, out, inout = 0, 1, 2
    undefined, string, binary, stream = 0, 1, 2, 3


protos = types.SimpleNamespace(BindingInfo=BindingInfo, RpcFunctionMetadata=_Message, RpcRetryOptions=_Message)


def main(app_dir: str) -> None:
    sys.path.insert(0, app_dir)
    os.chdir(app_dir)
    from azure_functions_runtime import handle_event
    from azure_functions_runtime.bindings import meta

    handle_event.protos = protos
    meta.load_binding_registry()
    metadata = handle_event.index_functions(os.path.join(app_dir, "function_app.py"), app_dir)
    heavy = sorted(m for m in sys.modules if m.startswith(("azure.mgmt", "azure.identity", "kubernetes", "wif_core")))
    print(json.dumps({
        "python": sys.version.split()[0],
        "functions": {m.name: [json.loads(b) for b in m.raw_bindings] for m in metadata},
        "registered": sorted(handle_event._functions._functions.keys()) if hasattr(handle_event._functions, "_functions")
        else None,
        "heavy_modules": heavy,
    }))


if __name__ == "__main__":
    main(sys.argv[1])
