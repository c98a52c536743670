"""Azure ABAC role-assignment conditions (conditionVersion 2.0): parse once, evaluate per request.

The grammar Azure documents for conditions ("Azure role assignment condition format and syntax",
learn.microsoft.com/azure/role-based-access-control/conditions-format), the part that conditions on
``Microsoft.Authorization/roleAssignments`` writes and deletes use (constrained delegation):

    expr      := and ( "OR" and )*
    and       := unary ( "AND" unary )*
    unary     := ("!" | "NOT") unary | "(" expr ")" | action | compare
    action    := ("ActionMatches" | "SubOperationMatches") "{" 'string' "}"
    compare   := "@" source "[" attribute "]" [quantifier ":"] operator values
    values    := "{" value ("," value)* "}" | value          (a GUID bare, a string in single quotes)

Anything outside it is refused when the condition is parsed (a 400, as ARM refuses a malformed
condition), never guessed at while a request is authorized.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence, Union

_TOKEN = re.compile(r"""\s*(?:
    (?P<str>'[^']*')
  | (?P<attr>@(?:Request|Resource|Principal|Environment)\[[^\]]+\])
  | (?P<punct>[(){},!])
  | (?P<word>[A-Za-z][A-Za-z0-9_:.\-/]*|[0-9a-fA-F]{8}-[0-9a-fA-F-]{27})
)""", re.VERBOSE)

_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "GuidEquals": lambda a, v: a.lower() == v.lower(),
    "GuidNotEquals": lambda a, v: a.lower() != v.lower(),
    "StringEquals": lambda a, v: a == v,
    "StringNotEquals": lambda a, v: a != v,
    "StringEqualsIgnoreCase": lambda a, v: a.lower() == v.lower(),
    "StringNotEqualsIgnoreCase": lambda a, v: a.lower() != v.lower(),
    "StringStartsWith": lambda a, v: a.startswith(v),
    "StringLike": lambda a, v: re.fullmatch(re.escape(v).replace(r"\*", ".*"), a) is not None,
}
_QUANTIFIERS = ("ForAnyOfAnyValues", "ForAllOfAnyValues", "ForAnyOfAllValues", "ForAllOfAllValues")


class ConditionError(ValueError):
    """The condition is not one this grammar knows: refused when the role assignment is written."""


@dataclass(frozen=True)
class Request:
    """What a condition can see of one request."""

    action: str
    request: Mapping[str, Sequence[str]]  # @Request[...] attributes
    resource: Mapping[str, Sequence[str]]  # @Resource[...] attributes


@dataclass(frozen=True)
class _Not:
    inner: Node


@dataclass(frozen=True)
class _Bool:
    op: str  # AND | OR
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class _Action:
    pattern: str


@dataclass(frozen=True)
class _Compare:
    source: str
    attribute: str
    quantifier: str
    operator: str
    values: tuple[str, ...]


Node = Union[_Not, _Bool, _Action, _Compare]


def action_matches(pattern: str, action: str) -> bool:
    """Azure's wildcard match of actions: ``*`` for any run of characters, case-insensitive."""
    return re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), action, re.IGNORECASE) is not None


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ConditionError(f"unexpected text in condition at {text[pos:pos + 30]!r}")
        out.append(m.group(m.lastgroup or "word").strip())
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens, self.i = tokens, 0

    def peek(self) -> str:
        return self.tokens[self.i] if self.i < len(self.tokens) else ""

    def take(self, expected: str = "") -> str:
        token = self.peek()
        if not token or (expected and token.upper() != expected.upper()):
            raise ConditionError(f"condition: expected {expected or 'more'}, found {token or 'the end'}")
        self.i += 1
        return token

    def expr(self, word: str = "OR") -> Node:
        sub: Callable[[], Node] = self.unary if word == "AND" else lambda: self.expr("AND")
        parts = [sub()]
        while self.peek().upper() == word:
            self.take()
            parts.append(sub())
        return parts[0] if len(parts) == 1 else _Bool(word, tuple(parts))

    def unary(self) -> Node:
        token = self.peek()
        if token in ("!",) or token.upper() == "NOT":
            self.take()
            return _Not(self.unary())
        if token == "(":
            self.take("(")
            inner = self.expr()
            self.take(")")
            return inner
        if token in ("ActionMatches", "SubOperationMatches"):
            self.take()
            self.take("{")
            pattern = self.take().strip("'")
            self.take("}")
            return _Action(pattern) if token == "ActionMatches" else _Action("\0never")  # no sub-operations here
        if token.startswith("@"):
            return self.compare()
        raise ConditionError(f"condition: unexpected {token or 'end'}")

    def compare(self) -> _Compare:
        attr = self.take()
        source, attribute = attr[1:attr.index("[")], attr[attr.index("[") + 1:-1]
        quantifier, _, operator = self.take().rpartition(":")
        if operator not in _OPERATORS or (quantifier and quantifier not in _QUANTIFIERS):
            raise ConditionError(f"condition: unknown operator {quantifier + ':' if quantifier else ''}{operator}")
        values: list[str] = []
        if self.peek() == "{":
            self.take("{")
            while self.peek() != "}":
                values.append(self.take().strip("'"))
                if self.peek() == ",":
                    self.take(",")
            self.take("}")
        else:
            values.append(self.take().strip("'"))
        return _Compare(source, attribute, quantifier, operator, tuple(values))


def parse(text: str) -> Node:
    parser = _Parser(_tokens(text))
    node = parser.expr()
    if parser.peek():
        raise ConditionError(f"condition: unexpected {parser.peek()} after the expression")
    return node


def evaluate(node: Node, req: Request) -> bool:
    if isinstance(node, _Not):
        return not evaluate(node.inner, req)
    if isinstance(node, _Bool):
        results = (evaluate(part, req) for part in node.parts)
        return all(results) if node.op == "AND" else any(results)
    if isinstance(node, _Action):
        return action_matches(node.pattern, req.action)
    seen = {"Request": req.request, "Resource": req.resource}.get(node.source, {}).get(node.attribute, ())
    if not seen:
        return False  # an attribute the request does not carry satisfies no comparison
    op = _OPERATORS[node.operator]
    any_value = node.quantifier in ("", "ForAnyOfAnyValues", "ForAllOfAnyValues")
    each = [any(op(a, v) for v in node.values) if any_value else all(op(a, v) for v in node.values) for a in seen]
    return all(each) if node.quantifier.startswith("ForAll") else any(each)
