"""The judge's pure logic: which parts of an assert go into the sandbox, decoding, judging (no processes)."""

import math
from decimal import Decimal
from fractions import Fraction

import pytest

from baseweight_assets.scoring.sandbox_judge import (
    Opaque, ProbeRaised, decode_value, judge_test, plan_test, shadowed_names,
)


def _sources(test, shadowed=frozenset()):
    return [p.source for p in plan_test(test, shadowed).probes]


def test_only_the_program_calls_enter_the_sandbox_never_the_expected_value():
    assert _sources("assert f(3) == 9") == ["f(3)"]
    assert _sources("assert int(lobb_num(5, 3)) == 35") == ["lobb_num(5, 3)"]
    assert _sources("assert math.isclose(area(2), 12.566, rel_tol=0.001)") == ["area(2)"]
    assert _sources("assert f(1)[0] == 'a' and not g(2)") == ["f(1)", "g(2)"]
    assert _sources("assert add(x, 1)") == ["add(x, 1)"]  # a setup name is the program's
    assert _sources("assert f(x).lower() == 'a'") == ["f(x).lower()"]  # a method of a program value
    assert _sources("assert [i * 2 for i in range(3)] == f(3)") == ["f(3)"]  # the judge builds the list
    assert _sources("assert f(__import__('os')) == 1") == ["f(__import__('os'))"]
    assert _sources("assert sum(10, 15) == 6") == []  # the builtin, unless the program rebinds it:
    assert _sources("assert sum(10, 15) == 6", frozenset({"sum"})) == ["sum(10, 15)"]


def test_iterator_probes_handed_to_a_consumer_are_materialized():
    plan = plan_test("assert sorted(gen(3)) == [0, 1, 2] and gen(1) == [0]")
    assert [(p.source, p.materialize) for p in plan.probes] == [("gen(3)", True), ("gen(1)", False)]


def test_sealed_unless_the_expected_side_needs_the_program():
    assert plan_test("assert f(3) == 9").sealed
    assert not plan_test("assert tuple_size((1, 2)) == sys.getsizeof((1, 2))").sealed  # MBPP task 596
    assert not plan_test("assert all(f(i) == i * i for i in range(3))").sealed  # compared inside the sandbox


def test_malformed_tests_are_refused():
    for bad, match in [("x = f(1)", "only assert statements"), ("assert (", "not valid Python"), ("", "empty")]:
        with pytest.raises(ValueError, match=match):
            plan_test(bad)


def test_judge_statuses():
    plan = plan_test("assert f(3) == 9\nassert f(0) == 0")
    assert judge_test(plan, {0: 9, 1: 0}) == ("pass", "")
    status, why = judge_test(plan, {0: 8, 1: 0})
    assert status == "wrong_answer" and "f(3) -> 8" in why
    assert judge_test(plan, {0: ProbeRaised("AssertionError", "x"), 1: 0})[0] == "wrong_answer"
    assert judge_test(plan, {0: ProbeRaised("ZeroDivisionError", "x"), 1: 0}) == (
        "runtime_error", "ZeroDivisionError: x")
    assert judge_test(plan, {0: 9})[0] == "runtime_error"  # a probe never answered
    # Lazy like Python: a probe that raised only matters where the expression needs it.
    assert judge_test(plan_test("assert f(1) == 1 or g(1)"), {0: 1, 1: ProbeRaised("ValueError", "")})[0] == "pass"


def test_math_and_builtins_on_decoded_values():
    plan = plan_test("assert math.isclose(area(2), 12.566, rel_tol=0.001)")
    assert judge_test(plan, {0: 4 * math.pi})[0] == "pass"
    assert judge_test(plan, {0: 12.0})[0] == "wrong_answer"
    plan = plan_test("assert set(f(1)) == {1, 2}")
    assert judge_test(plan, {0: [2, 1, 2]})[0] == "pass"


def test_opaque_values_equal_nothing_and_have_no_truth_value():
    plan = plan_test("assert f(1) == 1")
    assert judge_test(plan, {0: Opaque("Any", "<Any>")})[0] == "wrong_answer"
    status, why = judge_test(plan_test("assert f(1)"), {0: Opaque("T", "<T>")})
    assert status == "runtime_error" and "not judged" in why


def test_decode_every_tag():
    big = 10**5000  # past Python's int-from-decimal-string limit: carried in hex
    encoded = [None, True, 1.5, "s", [1, 2], {"i": hex(big)}, {"t": [1, {"t": []}]}, {"d": [[{"t": [1, 2]}, "v"]]},
               {"s": [1, 2]}, {"fs": ["a"]}, {"b": "6869"}, {"ba": "00"}, {"c": [1.0, -2.0]}, {"r": [0, 10, 2]},
               {"fr": ["0x1", "0x3"]}, {"dec": "1.10"}]
    decoded = [decode_value(e) for e in encoded]
    assert decoded == [None, True, 1.5, "s", [1, 2], big, (1, ()), {(1, 2): "v"}, {1, 2}, frozenset({"a"}),
                       b"hi", bytearray(b"\x00"), complex(1, -2), range(0, 10, 2), Fraction(1, 3), Decimal("1.10")]
    assert type(decoded[11]) is bytearray and type(decoded[8]) is set
    assert isinstance(decode_value({"o": ["Node", "<Node 1>"]}), Opaque)


@pytest.mark.parametrize("bad", [{"zz": 1}, {"t": 1}, {"d": [[[1], 2]]}, {"a": 1, "b": 2}, {"i": "zz"},
                                 {"s": [{"s": []}]}])
def test_malformed_values_raise_value_error(bad):
    with pytest.raises(ValueError):
        decode_value(bad)


def test_too_deep_values_raise_value_error():
    value: object = 1
    for _ in range(300):
        value = [value]
    with pytest.raises(ValueError, match="too deeply"):
        decode_value(value)


def test_shadowed_names_reads_module_level_bindings():
    code = ("import math as m, os\ndef sum(a, b):\n    len = 2\n    return a\nfor max in []:\n    pass\n"
            "def g():\n    global min\n    min = 1\n")
    assert shadowed_names(code, "abs = 3") == {"sum", "max", "min", "abs"}  # not len: a local
    assert shadowed_names("def broken(:") == frozenset()
