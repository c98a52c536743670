"""One module per step: ``(ports, settings, input) -> fact``; each is idempotent.

Decisions are pure functions (``plan_*``) tested with plain data; the step
function reads, decides, then writes only what the decision says.
"""
