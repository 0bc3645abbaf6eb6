"""The caps of the user-template sandbox (:mod:`keytrail.usertemplate`): how long a string,
how many items in a list, how wide a number a template may build, checked *before* Python
builds it (``"a" * 10**10`` would exhaust memory before any check after it).
"""

from __future__ import annotations

import re
from typing import Any

#: The most characters a template may render; also the longest string it may build.
MAX_OUTPUT = 64 * 1024 * 1024
MAX_STRING = MAX_OUTPUT
#: The longest list a template may build by repetition (``[x] * n``).
MAX_ITEMS = 1_000_000
#: The widest integer a template may compute (``2 ** n``), in bits: about 3,000 digits.
MAX_INT_BITS = 10_000

#: printf-style conversion: the width and precision, which can each ask for any size
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[diouxXeEfFgGcrsa%]")
#: str.format spec: the width and precision
_SPEC = re.compile(r"(\d+)?(?:[,_])?(?:\.(\d+))?[a-zA-Z%]?$")


class LimitError(Exception):
    """A template asked for more than a cap allows."""


def finalize(value: Any) -> Any:
    """Every ``{{ value }}`` passes here before it is printed: a value whose text would pass
    the cap (a list holding a long string many times) is refused before it is built."""
    if not isinstance(value, (str, int, float)):
        check_size(text_size(value), "a value's text")
    return value


def check_size(size: int, what: str) -> None:
    if size > MAX_STRING:
        raise LimitError(f"{what} of {size:,} characters (the limit is {MAX_STRING:,})")


def text_size(value: Any, budget: int = MAX_STRING) -> int:
    """How long ``str(value)`` would be, at least, counted without building it and stopping
    once past ``budget`` (a shared list nested in itself grows exponentially)."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 + 2 * len(item)
            stack.extend(item)
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, int) and not isinstance(item, bool):
            total += item.bit_length() // 3 + 1
        else:
            total += 8  # numbers, None, Undefined, objects: short
        if total > budget:
            return total
    return total


def check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and not isinstance(times, bool):
                if isinstance(seq, str):
                    check_size(len(seq) * max(times, 0), "a string")
                elif len(seq) * max(times, 0) > MAX_ITEMS:
                    raise LimitError(f"a list of {len(seq) * times:,} items (the limit is {MAX_ITEMS:,})")
                else:
                    check_size(text_size(seq) * max(times, 0), "a list's text")
        if _ints(left, right):
            _check_bits(abs(left).bit_length() + abs(right).bit_length())
    elif operator == "**":
        if _ints(left, right) and right > 0 and abs(left) > 1:
            _check_bits(abs(left).bit_length() * right)
        elif isinstance(left, float) or isinstance(right, float):
            return  # floats overflow to an OverflowError, which is located like any error
    elif operator == "+":
        if isinstance(left, str) and isinstance(right, str):
            check_size(len(left) + len(right), "a string")
        elif isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)) \
                and len(left) + len(right) > MAX_ITEMS:
            raise LimitError(f"a list of {len(left) + len(right):,} items (the limit is {MAX_ITEMS:,})")
        elif _ints(left, right):
            _check_bits(max(abs(left).bit_length(), abs(right).bit_length()) + 1)
    elif operator == "%" and isinstance(left, str):
        _check_printf(left, right if isinstance(right, tuple) else (right,))


def _check_items(count: int, what: str) -> None:
    if count > MAX_ITEMS:
        raise LimitError(f"{what} of more than {MAX_ITEMS:,} items")


def _ints(*values: Any) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def _check_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise LimitError(f"a number of about {bits:,} bits (the limit is {MAX_INT_BITS:,})")


def _check_printf(text: str, args: tuple[Any, ...]) -> None:
    """``"%s" % value``: a width or precision past the cap, or values whose text is, are refused."""
    size = len(text)
    for match in _PRINTF.finditer(text):
        for number in match.groups():
            if number == "*":
                raise LimitError("a * width or precision in %-formatting (give the number in the format)")
            if number is not None:
                size += int(number) if len(number) < 12 else MAX_STRING + 1
    check_size(size + sum(text_size(a) for a in args), "a formatted string")


def check_format_spec(text: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """``"{:>99}".format(value)``: widths and the values' text, before formatting."""
    import string

    size = len(text)
    for _, _, spec, _ in string.Formatter().parse(text):
        match = _SPEC.search(spec or "")
        for number in match.groups() if match else ():
            if number is not None:
                size += int(number) if len(number) < 12 else MAX_STRING + 1
    check_size(size + sum(text_size(a) for a in (*args, *kwargs.values())), "a formatted string")


#: str methods whose first argument is a width.
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


def check_call(function: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    owner = getattr(function, "__self__", None)
    name = getattr(function, "__name__", "")
    if isinstance(owner, str):
        if name in _WIDTH_METHODS and args and isinstance(args[0], int):
            check_size(args[0], "a string")
        elif name == "expandtabs":
            size = args[0] if args and isinstance(args[0], int) else kwargs.get("tabsize", 8)
            check_size(len(owner) * max(int(size), 1), "a string")
        elif name == "join" and args:
            items = args[0]
            if isinstance(items, (list, tuple)):
                check_size(sum(text_size(i) for i in items) + len(owner) * len(items), "a string")
        elif name == "replace" and len(args) >= 2:
            _check_replace(owner, args[0], args[1])


def _check_replace(text: Any, old: Any, new: Any) -> None:
    text, old, new = str(text), str(old), str(new)
    times = text.count(old) if old else len(text) + 1
    check_size(len(text) + times * len(new), "a string")


def cap_filters(env: Any) -> None:
    """Wrap the built-in filters that can build a string far longer than their input."""
    filters = env.filters
    center, indent, fmt, replace, join = (filters[n] for n in ("center", "indent", "format", "replace", "join"))

    def capped_center(value: Any, width: int = 80) -> Any:
        if isinstance(width, int):
            check_size(width, "a string")
        return center(value, width)

    def capped_indent(value: Any, width: Any = 4, first: bool = False, blank: bool = False) -> Any:
        pad = width if isinstance(width, str) else " " * min(int(width), MAX_STRING + 1) \
            if isinstance(width, int) else ""
        check_size(len(str(value)) + (str(value).count("\n") + 1) * len(pad), "a string")
        return indent(value, width, first, blank)

    def capped_format(value: Any, *args: Any, **kwargs: Any) -> Any:
        _check_printf(str(value), tuple(kwargs.values()) or args)
        return fmt(value, *args, **kwargs)

    def capped_join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
        items = list(value) if not isinstance(value, (str, dict)) else value
        if isinstance(items, list):
            if len(items) > MAX_ITEMS:
                raise LimitError(f"a join of {len(items):,} items (the limit is {MAX_ITEMS:,})")
            if attribute is None:
                check_size(sum(text_size(i) for i in items) + len(d) * len(items), "a string")
        return join(eval_ctx, items, d, attribute)

    def capped_replace(eval_ctx: Any, value: Any, old: Any, new: Any, count: Any = None) -> Any:
        _check_replace(value, old, new)
        return replace(eval_ctx, value, old, new, count)

    def numbers_only(environment: Any, value: Any, attribute: Any = None, start: Any = 0) -> Any:
        # with a number to start from, adding a list or string fails at once
        if not isinstance(start, (int, float)):
            raise LimitError("sum adds numbers only (adding lists or strings one by one takes quadratic time)")
        return total(environment, value, attribute, start)

    import jinja2

    def capped_list(value: Any) -> list[Any]:
        if isinstance(value, str):
            _check_items(len(value), "a list")
            return list(value)
        out = []
        for item in value:
            out.append(item)
            _check_items(len(out), "a list")
        return out

    filters["list"] = capped_list
    total = filters["sum"]
    filters["sum"] = jinja2.pass_environment(numbers_only)
    filters["center"] = capped_center
    filters["indent"] = capped_indent
    filters["format"] = capped_format
    filters["join"] = jinja2.pass_eval_context(capped_join)
    filters["replace"] = jinja2.pass_eval_context(capped_replace)
