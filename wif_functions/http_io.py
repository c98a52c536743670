"""HTTP conventions for the API: problem details, method and media type checks, the JSON body, 202s.

* Every refusal is ``application/problem+json`` (RFC 9457): ``type`` ``about:blank`` (the status
  code says it all), ``title`` the status phrase, ``status``, ``detail`` naming the problem and
  the fix, ``instance`` the request's path (never its query: it carries the function key).
* A 202 points at this API's own status route, never at the Durable extension's management
  URLs: on Azure those carry the extension's system key, which can terminate, rewind or purge
  any instance of the task hub.
"""
from __future__ import annotations

import http
import json
import urllib.parse
from typing import Any, Optional

import azure.functions as func

MAX_BODY = 64 * 1024
MAX_DETAIL = 500
PROBLEM = "application/problem+json"
RETRY_AFTER_S = 10  # how soon a poll of a started run can show progress (a step's first answer)
BODY_SHAPE = 'a JSON object {"clusterId": "<ARM id of the AKS cluster>"}'


class Refused(Exception):
    def __init__(self, status: int, detail: str, headers: Optional[dict[str, str]] = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}


def _path(req: func.HttpRequest) -> str:
    return urllib.parse.urlsplit(req.url).path


def problem(req: func.HttpRequest, refused: Refused) -> func.HttpResponse:
    detail = refused.detail
    if len(detail) > MAX_DETAIL:  # never echo an unbounded piece of the request back
        detail = detail[:MAX_DETAIL - 3] + "..."
    doc = {"type": "about:blank", "title": http.HTTPStatus(refused.status).phrase, "status": refused.status,
           "detail": detail, "instance": _path(req)[:MAX_DETAIL]}
    return func.HttpResponse(json.dumps(doc), status_code=refused.status, mimetype=PROBLEM, headers=refused.headers)


def ok(doc: Any) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(doc, default=str), status_code=200, mimetype="application/json")


def method(req: func.HttpRequest, allowed: tuple[str, ...]) -> str:
    """The request's method, or 405 with ``Allow``."""
    name = req.method.upper()
    if name not in allowed:
        raise Refused(405, f"method {name} is not allowed here; use {', '.join(allowed)}",
                      {"Allow": ", ".join(allowed)})
    return name


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json.loads keeps the last of two equal keys; which one a caller meant is a guess, so refuse."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise Refused(400, f"request body has the key {key[:80]!r} more than once; send {BODY_SHAPE}")
        out[key] = value
    return out


def json_body(req: func.HttpRequest) -> Any:
    """The body as JSON: 415 unless it says ``application/json``, 400 for anything but one clean JSON text."""
    media = (req.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        got = f"got {media[:80]!r}" if media else "the request has none"
        raise Refused(415, f"Content-Type must be application/json, {got}; send {BODY_SHAPE}",
                      {"Accept-Post": "application/json"})
    body = req.get_body()
    if len(body) > MAX_BODY:
        raise Refused(400, f"request body is larger than {MAX_BODY} bytes; send {BODY_SHAPE}")
    if not body.strip():
        raise Refused(400, f"request body is empty; send {BODY_SHAPE}")
    try:
        return json.loads(body.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError:
        raise Refused(400, f"request body is not UTF-8 text; send {BODY_SHAPE}") from None
    except json.JSONDecodeError as e:
        raise Refused(400, f"request body is not JSON ({e.msg} at position {e.pos}); send {BODY_SHAPE}") from None
    except RecursionError:  # e.g. 60 KiB of '[': the decoder runs out of stack, not of input
        raise Refused(400, f"request body is nested too deeply; send {BODY_SHAPE}") from None


def status_url(req: func.HttpRequest, subscription: str, group: str, name: str) -> str:
    """``GET /api/clusters/{subscription}/{resourceGroup}/{name}`` on the host the caller used, no query."""
    parts = urllib.parse.urlsplit(req.url)
    prefix = parts.path[:parts.path.find("/clusters")] if "/clusters" in parts.path else "/api"
    segments = "/".join(urllib.parse.quote(s, safe="") for s in (subscription, group, name))
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, f"{prefix}/clusters/{segments}", "", ""))


def accepted(location: str, doc: dict[str, Any]) -> func.HttpResponse:
    """202 for started work: ``Location`` and ``statusUri`` are our status route, nothing else."""
    return func.HttpResponse(json.dumps({**doc, "statusUri": location}), status_code=202, mimetype="application/json",
                             headers={"Location": location, "Retry-After": str(RETRY_AFTER_S)})
