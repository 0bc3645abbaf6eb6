"""Users' own report templates (``keytrail check --template FILE``), run in a sandbox.

A template comes from a repository anyone may send a pull request to, and CI renders
it. Jinja2's immutable sandbox already refuses Python internals (``__class__``) and
changes to the report's data; this module adds what a sandbox for untrusted templates
also needs:

- ``include``, ``import`` and ``extends`` read only files in the template's own folder
  (and below): no ``..``, no absolute paths, no symlink that leads out of it;
- every string, list and number the template builds is capped (``"a" * 10**10``,
  ``"x"|center(10**10)``, ``2 ** 10**10``, a doubling ``~`` chain), as is ``range`` and
  the rendered output (:mod:`keytrail.templatecaps`), so that no template can exhaust memory;
- every error, whatever the template did (a syntax error, an undefined name, ``1/0``,
  a macro that recurses for ever, a cap reached) is ``FILE:LINE: message``, exit 2,
  and nothing is written.

What a template's author writes is theirs: only the values that come from the report
are input. Those reach the template inert (:func:`keytrail.render.render_template` passes
the context through :func:`keytrail.textsafe.inline_all`), and HTML, XML and SVG templates
are autoescaped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from keytrail import templatecaps as caps
from keytrail.errors import Problem, TemplateError, UsageError
from keytrail.templatecaps import MAX_OUTPUT, LimitError

#: How long a template may run, in seconds (far more than any report needs).
MAX_SECONDS = 120.0

_SUFFIXES_ESCAPED = (".html", ".htm", ".xml", ".svg")


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
            caps.check_binop(operator, left, right)
            return super().call_binop(context, operator, left, right)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
            caps.check_call(__obj, args, kwargs)
            return super().call(__context, __obj, *args, **kwargs)

        def capped_concat(self, parts: tuple[Any, ...], eval_ctx: Any) -> str:
            from jinja2.runtime import markup_join, str_join

            caps.check_size(sum(caps.text_size(p) for p in parts), "a string")
            return str(markup_join(parts) if eval_ctx.autoescape else str_join(parts))

        def wrap_str_format(self, value: Any) -> Any:
            wrapped = super().wrap_str_format(value)
            if wrapped is None:
                return None

            def capped(*args: Any, **kwargs: Any) -> str:
                caps.check_format_spec(value.__self__, args, kwargs)
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
                  finalize=caps.finalize, auto_reload=False)
    caps.cap_filters(env)
    # lipsum(n) writes n paragraphs of filler: not part of a report, and unbounded
    env.globals.pop("lipsum", None)
    from keytrail.textsafe import inline

    # {{ f.reason | inline }}: an input value on one line, control characters shown as escapes
    env.filters["inline"] = lambda value: inline(str(value))
    return env


