"""Runs one ``/execute`` request's code like a Jupyter cell, in the child process the ExecuteServer starts.

Reads ``{"code": ...}`` on stdin. stdout and stderr are the code's own; results and the error go as JSON
lines, in the ``/execute`` line schema, on the file descriptor named by the first argument. As in IPython,
the last statement's value is the main result when it is an expression whose value is not ``None``.
"""

import ast
import json
import os
import signal
import sys
import traceback

_FORMATS = {"_repr_html_": "html", "_repr_markdown_": "markdown", "_repr_svg_": "svg", "_repr_latex_": "latex"}


def _result(value: object) -> dict[str, object]:
    text = repr(value)
    if isinstance(value, str) and len(text) >= 2 and text[0] == text[-1] == "'":
        text = text[1:-1]  # the E2B server strips a str's quotes from text/plain
    bundle: dict[str, object] = {"type": "result", "text": text, "is_main_result": True}
    if hasattr(value, "_repr_json_"):
        bundle["json"] = value._repr_json_()
    for method, key in _FORMATS.items():
        if hasattr(value, method):
            bundle[key] = getattr(value, method)()
    return bundle


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds the cell, so its clean-up (killing a script it started) runs


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    code = json.loads(sys.stdin.read())["code"]
    control = os.fdopen(int(sys.argv[1]), "w", encoding="utf-8")
    namespace: dict[str, object] = {"__name__": "__main__"}
    try:
        tree = ast.parse(code, "<cell>")
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, "<cell>", "exec"), namespace)  # noqa: S102 - running the cell is the point
        if last is not None:
            value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace)  # noqa: S307
            if value is not None:
                control.write(json.dumps(_result(value), default=str) + "\n")
    except BaseException as exc:  # a cell reports every exception, SystemExit included
        error = {"type": "error", "name": type(exc).__name__, "value": str(exc)}
        frames = exc.__traceback__.tb_next if exc.__traceback__ else None  # drop this file's own frame
        error["traceback"] = "".join(traceback.format_exception(type(exc), exc, frames))
        control.write(json.dumps(error) + "\n")
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        control.close()


if __name__ == "__main__":
    main()
