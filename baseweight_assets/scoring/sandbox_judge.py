"""Judge assert tests OUTSIDE the sandbox, so a generated program cannot forge a pass.

A test is one or more ``assert`` statements (MBPP: ``assert f(x) == expected``). ``plan_test`` splits each
assert's expression into *probes*: the smallest sub-expressions that need the program -- a call to a name the
program or the setup code defines, such a name itself, an attribute or method of a program value. Only the probe
sources go into the sandbox (``sandbox_runner``); the rest of the expression, in practice the expected value and
the comparison, never leaves this process. The runner answers with each probe's value in the plain-data
encoding below; ``decode_value`` rebuilds it from builtin types only (never the program's classes, so no
``__eq__`` or ``__bool__`` of the program's making runs here), and ``judge_test`` evaluates the remaining
expression with those values, an allowlist of pure builtins and ``math``.

So all a program can do is claim probe values. Exiting early (``sys.exit``, ``os._exit``, ``atexit``,
``excepthook``), printing tokens, patching builtins or ``AssertionError``, walking frames to clear the test list or
forging lines on the result channel make probes go missing or wrong, and a missing probe fails its test. It cannot
copy an expected value either: none is ever in its reach. Not covered: an expected value that itself needs the
program or setup (``== sys.getsizeof(t)`` with the program's ``sys``; 3 of MBPP's 2,938 asserts, task 596) is a
probe too, so that comparison is only as honest as the program; and a value the encoding cannot carry (an
instance of the program's own class, an iterator compared as such) arrives as an opaque stand-in that equals
nothing, where Python would have called that object's ``__eq__``.

Encoding (one JSON value per probe, written by ``sandbox_runner._encode``): ``null``/``true``/``false``, JSON
numbers (ints within 2**53 and floats, ``NaN``/``Infinity`` allowed), strings, JSON arrays for lists, and
one-key objects for the rest: ``{"i": hex}`` big int, ``{"t": [...]}`` tuple, ``{"d": [[k, v], ...]}`` dict,
``{"s": [...]}`` set, ``{"fs": [...]}`` frozenset, ``{"b": hex}`` bytes, ``{"ba": hex}`` bytearray,
``{"c": [re, im]}`` complex, ``{"r": [start, stop, step]}`` range, ``{"fr": [num, den]}`` Fraction,
``{"dec": str}`` Decimal, ``{"o": [type name, repr]}`` anything else (opaque).
"""

from __future__ import annotations

import ast
import builtins
import functools
import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

# Pure builtins the judge may call on expected values and decoded probe values; any other name is the program's.
JUDGE_BUILTINS = {name: getattr(builtins, name) for name in (
    "abs", "all", "any", "bool", "bytearray", "bytes", "chr", "complex", "dict", "divmod", "enumerate", "filter",
    "float", "frozenset", "hash", "int", "isinstance", "len", "list", "map", "max", "min", "ord", "pow", "range",
    "repr", "reversed", "round", "set", "slice", "sorted", "str", "sum", "tuple", "type", "zip",
)}
JUDGE_MODULES = {"math": math}
# A probe handed straight to one of these is materialized (an iterator becomes a list) before it is encoded,
# because the consumer would have iterated it anyway: ``sorted(gen())`` judges the same as ``sorted(list(gen()))``.
_ITERABLE_CONSUMERS = frozenset({"all", "any", "dict", "enumerate", "frozenset", "list", "max", "min", "reversed",
                                 "set", "sorted", "sum", "tuple", "zip"})
_PROBE = "__bw_probe__"
_MAX_DEPTH = 200


@dataclass(frozen=True)
class Probe:
    source: str  # expression evaluated inside the sandbox, in the program's namespace
    materialize: bool  # iterate it into a list first (see _ITERABLE_CONSUMERS)


@dataclass(frozen=True)
class TestPlan:
    probes: tuple[Probe, ...]
    checks: tuple  # one code object per assert; probes are bound to ``__bw_probe__(k)`` calls
    # False when a comparison happens inside a probe or has probes on both sides: the expected value then
    # depends on the program, so a pass of this test is only as honest as the program (module docstring).
    sealed: bool = True


class ProbeRaised(Exception):
    """A probe raised inside the sandbox; the judge re-raises it where the expression needs that value."""

    def __init__(self, type_name: str, message: str):
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name


class Opaque:
    """A program value the encoding cannot carry: equal only to itself, shown by its type and repr.

    Its truth value is not judged (``bool()`` raises): the program's ``__bool__`` never ran here, and a
    default-truthy stand-in would let any custom object pass ``assert f(x)``.
    """

    __slots__ = ("type_name", "text")

    def __init__(self, type_name: str, text: str):
        self.type_name, self.text = type_name, text

    def __bool__(self) -> bool:
        raise TypeError(f"the truth value of a {self.type_name} object is not judged (not plain data)")

    def __repr__(self) -> str:
        return f"<{self.type_name}: {self.text}>"


def _bound_names(tree: ast.AST) -> set[str]:
    """Names bound inside the expression by comprehensions or lambdas (they are the test's, not the program's)."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.comprehension):
            bound |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.Lambda):
            bound |= {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
    return bound


def shadowed_names(*sources: str) -> frozenset[str]:
    """The judge's own names (``JUDGE_BUILTINS``, ``JUDGE_MODULES``) that these sources rebind at module level.

    A program that defines its own ``sum`` or ``max`` must have ``sum(10, 15)`` in a test call *its* function,
    so such a name becomes a probe. Reads module-level bindings and ``global`` declarations; a source that does
    not parse shadows nothing (the sandbox reports its syntax error). Binding one dynamically
    (``globals()['sum'] = ...``) is not seen, and the judge then calls the builtin: a failure, never a pass.
    """
    names: set[str] = set()
    for source in sources:
        try:
            module = ast.parse(source or "")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        pending: list[ast.AST] = list(module.body)
        while pending:
            node = pending.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
                names |= {n for sub in ast.walk(node) if isinstance(sub, ast.Global) for n in sub.names}
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            pending.extend(ast.iter_child_nodes(node))
    return frozenset(n for n in names if n in JUDGE_BUILTINS or n in JUDGE_MODULES)


class _Splitter(ast.NodeTransformer):
    """Replace every program-dependent sub-expression by ``__bw_probe__(k)`` and collect its source."""

    def __init__(self, bound: set[str], shadowed: frozenset[str]):
        self.bound = bound
        self.shadowed = shadowed
        self.probes: list[Probe] = []

    def _trusted_name(self, name: str) -> bool:
        if name.startswith("_") or name in self.shadowed:
            return False
        return name in JUDGE_BUILTINS or name in JUDGE_MODULES or name in self.bound

    def _needs_program(self, node: ast.AST) -> bool:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and not self._trusted_name(sub.id):
                return True
            if isinstance(sub, ast.Attribute) and sub.attr.startswith("_"):
                return True
            if isinstance(sub, ast.NamedExpr):
                return True
        return False

    def _probe(self, node: ast.expr, materialize: bool = False) -> ast.expr:
        self.probes.append(Probe(ast.unparse(node), materialize))
        call = ast.Call(func=ast.Name(_PROBE, ast.Load()), args=[ast.Constant(len(self.probes) - 1)], keywords=[])
        return ast.copy_location(call, node)

    def visit(self, node: ast.AST) -> ast.AST:
        if not isinstance(node, ast.expr) or not self._needs_program(node):
            return node  # the judge evaluates it by itself
        if isinstance(node, ast.Call):
            if self._needs_program(node.func):
                return self._probe(node)
            consumer = isinstance(node.func, ast.Name) and node.func.id in _ITERABLE_CONSUMERS
            node.args = [self._probe(a, True) if consumer and self._is_leaf_probe(a) else self.visit(a)
                         for a in node.args]
            for keyword in node.keywords:
                keyword.value = self.visit(keyword.value)
            return node
        if isinstance(node, (ast.Compare, ast.BoolOp, ast.UnaryOp, ast.BinOp, ast.IfExp, ast.Tuple, ast.List,
                             ast.Set, ast.Dict, ast.Subscript, ast.Slice, ast.Starred, ast.JoinedStr,
                             ast.FormattedValue)):
            return self.generic_visit(node)
        return self._probe(node)  # a program name, a program value's attribute, a comprehension over one...

    def _is_leaf_probe(self, node: ast.expr) -> bool:
        """Would ``visit`` turn this whole argument into one probe?"""
        if not self._needs_program(node):
            return False
        if isinstance(node, ast.Call):
            return self._needs_program(node.func)
        return not isinstance(node, (ast.Compare, ast.BoolOp, ast.UnaryOp, ast.BinOp, ast.IfExp, ast.Tuple,
                                     ast.List, ast.Set, ast.Dict, ast.Subscript, ast.Slice, ast.Starred,
                                     ast.JoinedStr, ast.FormattedValue))


@functools.lru_cache(maxsize=4096)
def plan_test(test: str, shadowed: frozenset[str] = frozenset()) -> TestPlan:
    """Split a test (one or more ``assert`` statements) into probes and judge-side checks.

    ``shadowed``: judge names the program rebinds (``shadowed_names``); they are the program's here.
    Raises ``ValueError`` when the test is not Python or holds anything but asserts: only an assert's
    expression can be judged outside the sandbox.
    """
    try:
        module = ast.parse(test, mode="exec")
    except SyntaxError as exc:
        raise ValueError(f"test is not valid Python ({exc.msg}, line {exc.lineno}): {test[:200]!r}") from exc
    if not module.body:
        raise ValueError("test is empty")
    probes: list[Probe] = []
    checks = []
    sealed = True
    for stmt in module.body:
        if not isinstance(stmt, ast.Assert):
            raise ValueError(f"only assert statements can be judged outside the sandbox, found "
                             f"{type(stmt).__name__} in {test[:200]!r}")
        splitter = _Splitter(_bound_names(stmt.test), shadowed)
        splitter.probes = probes  # one numbering across the test's asserts
        first = len(probes)
        expr = ast.fix_missing_locations(ast.Expression(splitter.visit(stmt.test)))
        checks.append(compile(expr, "<judge>", "eval"))
        sealed = sealed and _sealed(expr, probes[first:])
    return TestPlan(tuple(probes), tuple(checks), sealed)


def _sealed(expr: ast.Expression, probes: list[Probe]) -> bool:
    def probed(node: ast.AST) -> bool:
        return any(isinstance(n, ast.Name) and n.id == _PROBE for n in ast.walk(node))

    for probe in probes:
        if any(isinstance(n, (ast.Compare, ast.BoolOp)) for n in ast.walk(ast.parse(probe.source, mode="eval"))):
            return False
    for node in ast.walk(expr):
        if isinstance(node, ast.Compare) and sum(probed(x) for x in (node.left, *node.comparators)) > 1:
            return False
    return True


def decode_value(obj: object, depth: int = 0) -> object:
    """Rebuild a probe value from its JSON encoding (module docstring); ``ValueError`` when malformed."""
    if depth > _MAX_DEPTH:
        raise ValueError("probe value nested too deeply")
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, list):
        return [decode_value(x, depth + 1) for x in obj]
    if not isinstance(obj, dict) or len(obj) != 1:
        raise ValueError(f"malformed probe value: {str(obj)[:100]}")
    ((tag, v),) = obj.items()
    try:
        if tag == "i":
            return int(v, 16)
        if tag == "t":
            return tuple(decode_value(x, depth + 1) for x in v)
        if tag == "d":
            return {decode_value(k, depth + 1): decode_value(x, depth + 1) for k, x in v}
        if tag == "s":
            return {decode_value(x, depth + 1) for x in v}
        if tag == "fs":
            return frozenset(decode_value(x, depth + 1) for x in v)
        if tag == "b":
            return bytes.fromhex(v)
        if tag == "ba":
            return bytearray.fromhex(v)
        if tag == "c":
            return complex(float(v[0]), float(v[1]))
        if tag == "r":
            return range(*(int(x) for x in v))
        if tag == "fr":
            return Fraction(int(v[0], 16), int(v[1], 16))
        if tag == "dec":
            return Decimal(str(v))
        if tag == "o":
            return Opaque(str(v[0])[:100], str(v[1])[:300])
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise ValueError(f"malformed {tag!r} probe value: {exc}") from exc
    raise ValueError(f"unknown probe value tag {tag!r}")


def judge_test(plan: TestPlan, values: dict[int, object]) -> tuple[str, str]:
    """(status, message) of one test from its decoded probe values (a ``ProbeRaised`` for a probe that raised).

    "pass" when every assert's expression is truthy, "wrong_answer" when one is falsy or a probe raised
    ``AssertionError`` (the program's own assert), "runtime_error" when evaluating it raises anything else or a
    probe value is missing (the program exited or was killed before answering).
    """

    def probe(k: int) -> object:
        if k not in values:
            raise LookupError(f"probe {plan.probes[k].source!r} was never answered")
        value = values[k]
        if isinstance(value, ProbeRaised):
            raise value
        return value

    namespace = {"__builtins__": JUDGE_BUILTINS, **JUDGE_MODULES, _PROBE: probe}
    for check in plan.checks:
        try:
            ok = bool(eval(check, namespace))  # noqa: S307 - the test's expression; program values are plain data
        except ProbeRaised as exc:
            return ("wrong_answer" if exc.type_name == "AssertionError" else "runtime_error"), str(exc)
        except Exception as exc:  # noqa: BLE001 - whatever the comparison raises is the program's runtime error
            return "runtime_error", f"{type(exc).__name__}: {exc}"
        if not ok:
            shown = ", ".join(f"{p.source} -> {values.get(k)!r}"[:200] for k, p in enumerate(plan.probes))
            return "wrong_answer", f"assertion failed: {shown}"
    return "pass", ""
