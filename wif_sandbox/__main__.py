"""``python -m wif_sandbox serve|demo``.

``serve`` starts the sandbox and prints, as the first stdout line, one JSON
object: the environment that points ``wif_core`` / the function app at it, the
ARM ids of the hub, targets and Argo CD identity, the admin kubeconfig and the CA
bundle. It then logs one stderr line per request (service, operation, status,
milliseconds; never a header or body) until SIGINT/SIGTERM, and exits 0.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Optional

from wif_sandbox import faults, webhook
from wif_sandbox.world import Sandbox


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m wif_sandbox",
                                     description="Local Azure (ARM, Entra ID) and AKS emulators over HTTPS.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the sandbox until interrupted; first stdout line is its JSON env")
    serve.add_argument("--targets", type=int, default=2, help="target clusters to create (default 2)")
    serve.add_argument("--propagation-delay", type=float, default=0.0, metavar="S",
                       help="seconds before a new federated credential works at Entra (AADSTS70021 until then)")
    serve.add_argument("--provisioning-delay", type=float, default=0.0, metavar="S",
                       help="seconds a new cluster stays in provisioningState Creating")
    serve.add_argument("--latency", type=float, default=0.0, metavar="S", help="added to every request")
    serve.add_argument("--webhook-token-path", type=webhook.token_file, default=webhook.NEW_TOKEN_FILE,
                       metavar="new|old|PATH", help="where the workload identity webhook mounts Argo CD's token: "
                       "new (v1.6.0+, default), old (up to v1.5.1) or a path")
    serve.add_argument("--arm-throttle", type=float, default=0.0, metavar="SCALE",
                       help="throttle ARM as Azure documents, buckets and refill rates times SCALE (1 = Azure's; 0 = off)")
    serve.add_argument("--no-arm-rbac", action="store_true",
                       help="let any valid token do anything in ARM (default: authorize as Azure does)")
    serve.add_argument("--workdir", type=Path, default=None, help="where the CA and kubeconfig go (default: a temp dir)")
    sub.add_parser("demo", help="create a cluster and watch it get registered (see README)")
    return parser


def _log_line(entry: faults.LogEntry) -> None:
    print(f"{entry.service} {entry.operation} {entry.status} {entry.duration_ms:.0f}ms", file=sys.stderr, flush=True)


def serve(args: argparse.Namespace) -> int:
    knobs = faults.Faults(latency_s=args.latency, propagation_delay_s=args.propagation_delay,
                          provisioning_delay_s=args.provisioning_delay, webhook_token_file=args.webhook_token_path,
                          arm_throttle=args.arm_throttle > 0, arm_throttle_scale=args.arm_throttle or 1.0,
                          arm_rbac=not args.no_arm_rbac)
    stop = threading.Event()

    def on_signal(signum: int, frame: Optional[FrameType]) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with Sandbox.start(args.workdir, targets=args.targets, faults=knobs) as sb:
        sb.log.sink = _log_line
        first = {"env": sb.env, "hub": sb.hub_id, "targets": sb.target_ids, "identity": sb.identity_id,
                 "kubeconfig": str(sb.kubeconfig_path), "ca_bundle": str(sb.ca_bundle),
                 # the admin who runs the runbooks (Owner; sandbox-only secret): env has the function app's rights
                 "operator": {"AZURE_CLIENT_ID": sb.operator_app.client_id, "AZURE_CLIENT_SECRET": sb.operator_app.secret}}
        print(json.dumps(first), flush=True)
        while not stop.wait(0.5):
            pass
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    from wif_sandbox import demo

    return demo.main()


if __name__ == "__main__":
    sys.exit(main())
