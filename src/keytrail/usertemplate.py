"""Users' own report templates (``keytrail check --template FILE``), run in a sandbox.

A template comes from a repository anyone may send a pull request to, and CI renders
it. Jinja2's immutable sandbox already refuses Python internals (``__class__``) and
changes to the report's data; this module adds what a sandbox for untrusted templates
also needs:

- ``include``, ``import`` and ``extends`` read only files in the template's own folder
  (and below): no ``..``, no absolute paths, no symlink that leads out of it;
- every string, list and number the template builds is capped (``"a" * 10**10``,
  ``"x"|center(10**10)``, ``2 ** 10**10``, a doubling ``~`` chain), as is ``range`` and
  the rendered output (:data:`MAX_OUTPUT`), so that no template can exhaust memory;
- every error, whatever the template did (a syntax error, an undefined name, ``1/0``,
  a macro that recurses for ever, a cap reached) is ``FILE:LINE: message``, exit 2,
  and nothing is written.

What a template's author writes is theirs: only the values that come from the report
are input, and the built-in formats' escaping rules apply to those (HTML, XML and SVG
templates are autoescaped).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from keytrail.errors import Problem, TemplateError, UsageError

#: The most characters a template may render; also the longest string it may build.
MAX_OUTPUT = 64 * 1024 * 1024
MAX_STRING = MAX_OUTPUT
#: The longest list a template may build by repetition (``[x] * n``).
MAX_ITEMS = 1_000_000
#: How long a template may run, in seconds (far more than any report needs).
MAX_SECONDS = 120.0
#: The widest integer a template may compute (``2 ** n``), in bits: about 3,000 digits.
MAX_INT_BITS = 10_000

_SUFFIXES_ESCAPED = (".html", ".htm", ".xml", ".svg")
#: printf-style conversion: the width and precision, which can each ask for any size
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[diouxXeEfFgGcrsa%]")
#: str.format spec: the width and precision
_SPEC = re.compile(r"(\d+)?(?:[,_])?(?:\.(\d+))?[a-zA-Z%]?$")


class LimitError(Exception):
    """A template asked for more than a cap allows."""


def render(path: Path, data: dict[str, Any]) -> str:
    """Render the template at ``path`` with ``data``; every failure is a :class:`TemplateError`
    naming the template file (the included one, when the error is there) and line."""
    display = str(path)
    if not path.is_file():
        raise UsageError(f"--template {display}: no such file")
    try:
        path.read_bytes()
    except OSError as exc:
        raise UsageError(f"--template {display}: cannot read: {exc.strerror}") from None
    env = _environment(path.parent, path.suffix.lower() in _SUFFIXES_ESCAPED)
    folder = str(path.parent)
    try:
        with _time_limit(MAX_SECONDS):
            template = env.get_template(path.name)
            return _bounded(template.generate(**data))
    except Exception as exc:  # noqa: BLE001 - the template is the user's code: any error in it is theirs
        raise _located(exc, display, folder, env.loader.loaded) from None


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Stop a template that runs longer than ``seconds`` (``{% for a in range(100000) %}{% for b
    in range(100000) %}`` builds nothing, so no cap on size catches it). Uses SIGALRM, which only
    the main thread of a POSIX process receives; elsewhere the template runs unlimited in time."""
    import signal
    import threading

    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise LimitError(f"the template ran for more than {seconds:g} seconds")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _bounded(chunks: Iterable[str]) -> str:
    out: list[str] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_OUTPUT:
            raise LimitError(f"the output passes {MAX_OUTPUT:,} characters")
        out.append(chunk)
    return "".join(out)


def _located(exc: BaseException, display: str, folder: str, loaded: set[str]) -> TemplateError:
    import jinja2

    if isinstance(exc, jinja2.TemplateSyntaxError):
        where = _shown(exc.filename, display, folder)
        return _error(where, exc.lineno or 0, f"template syntax: {exc.message}")
    where, line = _frame(exc, display, folder, loaded)
    if isinstance(exc, jinja2.TemplateNotFound):
        message = f"template not found: {exc.name!r} (include, import and extends read files in " \
                  f"the template's folder: {folder})"
    elif isinstance(exc, jinja2.exceptions.SecurityError):
        message = f"unsafe template: {exc}"
    elif isinstance(exc, LimitError):
        message = f"template refused: {exc}"
    elif isinstance(exc, RecursionError):
        message = "template recursion too deep (a macro or include that never stops calling itself)"
    elif isinstance(exc, MemoryError):
        message = "template ran out of memory"
    elif isinstance(exc, jinja2.TemplateError):
        message = f"template: {exc}"
    else:  # an error of Python's while running the template's expressions: 1/0, "%s" % (1, 2)
        message = f"template: {exc}" if str(exc) else f"template: {type(exc).__name__}"
    return _error(where, line, message)


def _error(where: str, line: int, message: str) -> TemplateError:
    from keytrail.textsafe import inline

    return TemplateError(f"{where}: template error", [Problem(where, line, 0, "", inline(message))])


def _shown(filename: str | None, display: str, folder: str) -> str:
    """The file to name: ``display`` for the template given, a path beside it for an included one."""
    if not filename:
        return display
    try:
        rel = os.path.relpath(filename, folder)
    except ValueError:
        return display
    if rel == os.path.basename(display):
        return display
    return os.path.join(os.path.dirname(display), rel)


def _frame(exc: BaseException, display: str, folder: str, loaded: set[str]) -> tuple[str, int]:
    """The template file and line a runtime error happened on: the innermost frame of a
    template file (Jinja2 rewrites tracebacks so that those frames carry the template's line)."""
    tb = exc.__traceback__
    found: tuple[str, int] = (display, 0)
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name in loaded:
            found = (_shown(name, display, folder), tb.tb_lineno)
        tb = tb.tb_next
    return found


def _environment(folder: Path, autoescape: bool) -> Any:
    import jinja2
    from jinja2.compiler import CodeGenerator
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Generator(CodeGenerator):
        """Compiles ``a ~ b`` to a capped join (Jinja2 otherwise joins without asking the sandbox)."""

        def visit_Concat(self, node: Any, frame: Any) -> None:
            self.write("environment.capped_concat((")
            for arg in node.nodes:
                self.visit(arg, frame)
                self.write(", ")
            self.write("), context.eval_ctx)")

    class Sandbox(ImmutableSandboxedEnvironment):
        code_generator_class = Generator
        intercepted_binops = frozenset({"*", "**", "%", "+", "//"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            _check_binop(operator, left, right)
            return super().call_binop(context, operator, left, right)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
            _check_call(__obj, args, kwargs)
            return super().call(__context, __obj, *args, **kwargs)

        def capped_concat(self, parts: tuple[Any, ...], eval_ctx: Any) -> str:
            from jinja2.runtime import markup_join, str_join

            _check_size(sum(_text_size(p) for p in parts), "a string")
            return str(markup_join(parts) if eval_ctx.autoescape else str_join(parts))

        def wrap_str_format(self, value: Any) -> Any:
            wrapped = super().wrap_str_format(value)
            if wrapped is None:
                return None

            def capped(*args: Any, **kwargs: Any) -> str:
                _check_format_spec(value.__self__, args, kwargs)
                return str(wrapped(*args, **kwargs))

            return capped

    class Loader(jinja2.FileSystemLoader):
        """Templates from one folder: names are relative (Jinja2's own name splitting refuses
        ``..``; absolute and drive paths are refused here) and a file must really be inside
        the folder (a symlink leading out of it is refused)."""

        def __init__(self) -> None:
            super().__init__(str(folder))
            self.root = os.path.realpath(folder)
            self.loaded: set[str] = set()  # the files read, to find their frames in a traceback

        def get_source(self, environment: Any, template: str) -> tuple[str, str, Any]:
            if template.startswith(("/", "\\")) or "\\" in template or re.match(r"^[A-Za-z]:", template):
                raise jinja2.TemplateNotFound(template)
            source, filename, uptodate = super().get_source(environment, template)
            if not os.path.realpath(filename).startswith(self.root + os.sep):
                raise jinja2.exceptions.SecurityError(
                    f"{template!r} leads out of the template's folder (a symlink): refused")
            self.loaded.add(filename)
            return source, filename, uptodate

    env = Sandbox(loader=Loader(), autoescape=autoescape, undefined=jinja2.StrictUndefined,
                  trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                  finalize=_finalize, auto_reload=False)
    _cap_filters(env)
    # lipsum(n) writes n paragraphs of filler: not part of a report, and unbounded
    env.globals.pop("lipsum", None)
    from keytrail.textsafe import inline

    # {{ f.reason | inline }}: an input value on one line, control characters shown as escapes
    env.filters["inline"] = lambda value: inline(str(value))
    return env


def _finalize(value: Any) -> Any:
    """Every ``{{ value }}`` passes here before it is printed: a value whose text would pass
    the cap (a list holding a long string many times) is refused before it is built."""
    if not isinstance(value, (str, int, float)):
        _check_size(_text_size(value), "a value's text")
    return value


def _check_size(size: int, what: str) -> None:
    if size > MAX_STRING:
        raise LimitError(f"{what} of {size:,} characters (the limit is {MAX_STRING:,})")


def _text_size(value: Any, budget: int = MAX_STRING) -> int:
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


def _check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and not isinstance(times, bool):
                if isinstance(seq, str):
                    _check_size(len(seq) * max(times, 0), "a string")
                elif len(seq) * max(times, 0) > MAX_ITEMS:
                    raise LimitError(f"a list of {len(seq) * times:,} items (the limit is {MAX_ITEMS:,})")
                else:
                    _check_size(_text_size(seq) * max(times, 0), "a list's text")
        if _ints(left, right):
            _check_bits(abs(left).bit_length() + abs(right).bit_length())
    elif operator == "**":
        if _ints(left, right) and right > 0 and abs(left) > 1:
            _check_bits(abs(left).bit_length() * right)
        elif isinstance(left, float) or isinstance(right, float):
            return  # floats overflow to an OverflowError, which is located like any error
    elif operator == "+":
        if isinstance(left, str) and isinstance(right, str):
            _check_size(len(left) + len(right), "a string")
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
    _check_size(size + sum(_text_size(a) for a in args), "a formatted string")


def _check_format_spec(text: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """``"{:>99}".format(value)``: widths and the values' text, before formatting."""
    import string

    size = len(text)
    for _, _, spec, _ in string.Formatter().parse(text):
        match = _SPEC.search(spec or "")
        for number in match.groups() if match else ():
            if number is not None:
                size += int(number) if len(number) < 12 else MAX_STRING + 1
    _check_size(size + sum(_text_size(a) for a in (*args, *kwargs.values())), "a formatted string")


#: str methods whose first argument is a width.
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


def _check_call(function: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    owner = getattr(function, "__self__", None)
    name = getattr(function, "__name__", "")
    if isinstance(owner, str):
        if name in _WIDTH_METHODS and args and isinstance(args[0], int):
            _check_size(args[0], "a string")
        elif name == "expandtabs":
            size = args[0] if args and isinstance(args[0], int) else kwargs.get("tabsize", 8)
            _check_size(len(owner) * max(int(size), 1), "a string")
        elif name == "join" and args:
            items = args[0]
            if isinstance(items, (list, tuple)):
                _check_size(sum(_text_size(i) for i in items) + len(owner) * len(items), "a string")
        elif name == "replace" and len(args) >= 2:
            _check_replace(owner, args[0], args[1])


def _check_replace(text: Any, old: Any, new: Any) -> None:
    text, old, new = str(text), str(old), str(new)
    times = text.count(old) if old else len(text) + 1
    _check_size(len(text) + times * len(new), "a string")


def _cap_filters(env: Any) -> None:
    """Wrap the built-in filters that can build a string far longer than their input."""
    filters = env.filters
    center, indent, fmt, replace, join = (filters[n] for n in ("center", "indent", "format", "replace", "join"))

    def capped_center(value: Any, width: int = 80) -> Any:
        if isinstance(width, int):
            _check_size(width, "a string")
        return center(value, width)

    def capped_indent(value: Any, width: Any = 4, first: bool = False, blank: bool = False) -> Any:
        pad = width if isinstance(width, str) else " " * min(int(width), MAX_STRING + 1) \
            if isinstance(width, int) else ""
        _check_size(len(str(value)) + (str(value).count("\n") + 1) * len(pad), "a string")
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
                _check_size(sum(_text_size(i) for i in items) + len(d) * len(items), "a string")
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
