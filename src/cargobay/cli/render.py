"""Rendering in one place: docker's tables, sizes, durations and `--format` templates.

Everything here reproduces docker's output byte for byte:

* `tabwrite`: Go's text/tabwriter as docker configures it (minwidth 10, tabwidth 1, padding 3).
* `human_size_precision` / `human_size`: go-units HumanSizeWithPrecision(3) and HumanSize (4).
* `human_duration`: go-units HumanDuration (`About an hour`, `3 weeks`, ...).
* `Template`: a small, safe evaluator for the subset of Go text/template that `--format` strings
  use (fields, pipelines, `if/else/range/with`, `json`, `join`, `upper`, `index`, `len`, ...).
  No Python code is ever evaluated.

`now()` honours `CARGOBAY_NOW` (Unix seconds or RFC 3339) so output can be reproduced in tests.
"""

from __future__ import annotations

import json
import os
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

# ------------------------------------------------------------------------------------- time


def now() -> float:
    """The current time, or `CARGOBAY_NOW` when set (for reproducible output)."""
    fixed = os.environ.get("CARGOBAY_NOW")
    if fixed:
        try:
            return float(fixed)
        except ValueError:
            from cargobay.localstore.timeutil import parse_rfc3339

            stamp = parse_rfc3339(fixed)
            if stamp is not None:
                return stamp.unix
    return time.time()


def human_duration(seconds_float: float) -> str:
    """go-units HumanDuration."""
    seconds = int(seconds_float)
    if seconds < 1:
        return "Less than a second"
    if seconds == 1:
        return "1 second"
    if seconds < 60:
        return f"{seconds} seconds"
    minutes = int(seconds_float / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds_float / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds_float / 3600) // 24 // 365} years"


def since(created: float, current: float | None = None) -> str:
    """`N units ago`, as docker's CreatedSince."""
    return human_duration((current if current is not None else now()) - created) + " ago"


def go_time_string(unix_seconds: int) -> str:
    """Go's `time.Unix(s, 0).String()` in local time: `2021-03-04 03:24:42 +0100 CET`."""
    local = time.localtime(unix_seconds)
    zone = time.strftime("%Z", local) or time.strftime("%z", local)
    return time.strftime("%Y-%m-%d %H:%M:%S %z ", local) + zone


def go_rfc3339_local(unix_seconds: int) -> str:
    """Go's `time.Unix(s, 0).Format(time.RFC3339)` in local time."""
    local = time.localtime(unix_seconds)
    offset = local.tm_gmtoff or 0
    if offset == 0:
        suffix = "Z"
    else:
        sign = "+" if offset > 0 else "-"
        minutes = abs(offset) // 60
        suffix = f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + suffix


# ------------------------------------------------------------------------------------ sizes

_DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_size_precision(size: float, precision: int) -> str:
    """go-units HumanSizeWithPrecision: decimal units, no space, `%.{precision}g`."""
    value = float(size)
    i = 0
    while value >= 1000.0 and i < len(_DECIMAL_UNITS) - 1:
        value /= 1000.0
        i += 1
    return _go_g(value, precision) + _DECIMAL_UNITS[i]


def human_size(size: float) -> str:
    """go-units HumanSize (4 significant digits), as prune's `Total reclaimed space`."""
    return human_size_precision(size, 4)


def _go_g(value: float, precision: int) -> str:
    # Go's %.Ng agrees with C's for finite values, except that Go's exponent has at least two digits
    # (as C's does too).
    return f"{value:.{precision}g}"


# ------------------------------------------------------------------------------- truncation


def _char_width(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def ellipsis(text: str, max_width: int) -> str:
    """docker's formatter.Ellipsis: cut to `max_width` display cells, the last one being `…`."""
    if max_width <= 0:
        return ""
    if max_width == 1:
        return text[:1]
    if text.isascii():
        if len(text) <= max_width:
            return text
        return text[: max_width - 1] + "…"
    widths: list[int] = []
    total = 0
    for ch in text:
        total += _char_width(ch)
        widths.append(total)
    if total <= max_width:
        return text
    for i in range(len(widths) - 1):
        if widths[i] <= max_width - 1 < widths[i + 1]:
            return text[: i + 1] + "…"
    return text


def truncate_id(value: str) -> str:
    """docker's stringid.TruncateID: drop `algo:` and keep 12 characters."""
    if ":" in value:
        value = value.split(":", 1)[1]
    return value[:12]


# -------------------------------------------------------------------------------- tabwriter


def tabwrite(text: str, minwidth: int = 10, padding: int = 3) -> str:
    """Go text/tabwriter (tabwidth 1, pad ' ', no flags) applied to `text` as docker does.

    Cells end with a tab; the text after a line's last tab is not part of any column. Column
    widths are computed per block of consecutive lines that have that column, as Go does.
    """
    lines = text.split("\n")
    cells = [line.split("\t") for line in lines]
    out: list[str] = []
    widths: list[int] = []

    def write_lines(line0: int, line1: int) -> None:
        for i in range(line0, line1):
            row = cells[i]
            parts: list[str] = []
            for j, cell in enumerate(row):
                parts.append(cell)
                if j < len(widths) and j < len(row) - 1:
                    parts.append(" " * (widths[j] - len(cell)))
            out.append("".join(parts))

    def fmt(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(cells[this]) - 1:
                this += 1
                continue
            write_lines(line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(cells[this]) - 1:
                width = max(width, len(cells[this][column]) + padding)
                this += 1
            widths.append(width)
            fmt(line0, this)
            widths.pop()
            line0 = this
        write_lines(line0, line1)

    fmt(0, len(cells))
    return "\n".join(out)


# ---------------------------------------------------------------------------- JSON like Go


def go_json(value: Any, indent: int | None = None, escape_html: bool = True) -> str:
    """encoding/json output: UTF-8 kept, `<>&` escaped (unless told not to), U+2028/9 escaped."""
    if indent is None:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    else:
        text = json.dumps(value, ensure_ascii=False, indent=indent)
    if escape_html:
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


# ------------------------------------------------------------------------------- templates


class TemplateError(ValueError):
    pass


class Struct:
    """A template context with fixed fields, like a Go struct: an unknown field is an error.

    `fields` maps the field name to a value or to a zero-argument callable (evaluated lazily).
    `json()` is what `{{json .}}` prints.
    """

    type_name = "context"

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self._fields = fields

    def get(self, name: str) -> Any:
        if name not in self._fields:
            raise TemplateError(f"can't evaluate field {name} in type {self.type_name}")
        value = self._fields[name]
        return value() if callable(value) else value

    def json(self) -> Any:
        return {k: self.get(k) for k in sorted(self._fields)}


_NO_VALUE = object()


def go_print(value: Any) -> str:
    """fmt.Sprint of a JSON-like value."""
    if value is _NO_VALUE:
        return "<no value>"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        if value == int(value) and abs(value) < 1e21:
            return str(int(value)) if abs(value) < 1e21 else repr(value)
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Struct):
        return "{" + " ".join(go_print(value.get(k)) for k in sorted(value._fields)) + "}"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{go_print(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_print(v) for v in value) + "]"
    return str(value)


def _truthy(value: Any) -> bool:
    if value is _NO_VALUE or value is None:
        return False
    if isinstance(value, Struct):
        return True
    return bool(value)


def _json_func(value: Any) -> str:
    if isinstance(value, Struct):
        # A formatter context marshals itself with json.Marshal (HTML-escaped).
        return go_json(value.json())
    return go_json(_plain(value), escape_html=False)


def _plain(value: Any) -> Any:
    if value is _NO_VALUE:
        return None
    if isinstance(value, Struct):
        return value.json()
    return value


def _title(text: str) -> str:
    return re.sub(r"(^|[^\w])(\w)", lambda m: m.group(1) + m.group(2).upper(), text)


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, Struct):
            value = value.get(str(key))
        elif isinstance(value, Mapping):
            value = value.get(key, _NO_VALUE)
        elif isinstance(value, list | tuple):
            if not isinstance(key, int) or not 0 <= key < len(value):
                raise TemplateError(f"error calling index: index out of range: {key}")
            value = value[key]
        else:
            raise TemplateError(f"error calling index: can't index item of type {type(value).__name__}")
    return value


def _length(value: Any) -> int:
    if isinstance(value, str | list | tuple | Mapping):
        return len(value)
    raise TemplateError(f"error calling len: len of type {type(value).__name__}")


_VERB = re.compile(r"%([-+# 0]*)(\d*)(?:\.(\d+))?([a-zA-Z%])")


def _printf(fmt: str, *args: Any) -> str:
    """fmt.Sprintf for the verbs templates use: %s %v %d %q %x %f, with flags, width, precision."""
    it = iter(args)

    def one(match: re.Match[str]) -> str:
        flags, width, precision, verb = match.groups()
        if verb == "%":
            return "%"
        arg = next(it, _NO_VALUE)
        if verb == "q":
            text = json.dumps(go_print(arg), ensure_ascii=False)
        elif verb == "d" and isinstance(arg, int) and not isinstance(arg, bool):
            text = str(arg)
        elif verb == "x" and isinstance(arg, int) and not isinstance(arg, bool):
            text = f"{arg:x}"
        elif verb == "x":
            text = go_print(arg).encode().hex()
        elif verb == "f" and isinstance(arg, int | float) and not isinstance(arg, bool):
            text = f"{arg:.{int(precision) if precision else 6}f}"
        else:
            text = go_print(arg)
            if precision and verb in "sv":
                text = text[: int(precision)]
        if width:
            pad = int(width) - len(text)
            if pad > 0:
                if "-" in flags:
                    text += " " * pad
                elif "0" in flags and verb in "dxf":
                    text = "0" * pad + text
                else:
                    text = " " * pad + text
        return text

    return _VERB.sub(one, fmt)


def _cmp(name: str, op: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def compare(a: Any, *bs: Any) -> bool:
        try:
            if name == "eq":
                return any(op(a, b) for b in bs)
            return op(a, bs[0])
        except TypeError:
            raise TemplateError(f"error calling {name}: incompatible types for comparison") from None

    return compare


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "json": _json_func,
    "join": lambda items, sep: sep.join(go_print(x) for x in (items or [])),
    "split": lambda text, sep: text.split(sep),
    "lower": lambda text: go_print(text).lower(),
    "upper": lambda text: go_print(text).upper(),
    "title": lambda text: _title(go_print(text)),
    "truncate": lambda text, n: go_print(text)[: int(n)],
    "pad": lambda text, left, right: " " * int(left) + go_print(text) + " " * int(right),
    "println": lambda *args: " ".join(go_print(a) for a in args) + "\n",
    "print": lambda *args: "".join(go_print(a) for a in args),
    "printf": _printf,
    "len": _length,
    "index": _index,
    "not": lambda x: not _truthy(x),
    "and": lambda *xs: next((x for x in xs if not _truthy(x)), xs[-1]),
    "or": lambda *xs: next((x for x in xs if _truthy(x)), xs[-1]),
    "eq": _cmp("eq", lambda a, b: a == b),
    "ne": _cmp("ne", lambda a, b: a != b),
    "lt": _cmp("lt", lambda a, b: a < b),
    "le": _cmp("le", lambda a, b: a <= b),
    "gt": _cmp("gt", lambda a, b: a > b),
    "ge": _cmp("ge", lambda a, b: a >= b),
}

# docker's HeaderFunctions: while rendering a table header these print nothing useful.
HEADER_FUNCTIONS: dict[str, Callable[..., Any]] = {
    **FUNCTIONS,
    "json": lambda v: "",
    "split": lambda v, sep: v,
    "join": lambda v, sep: v,
    "title": lambda v: v,
    "lower": lambda v: v,
    "upper": lambda v: v,
    "truncate": lambda v, n: v,
    "pad": lambda v, a, b: v,
}

_TOKEN_PATTERN = r"""\s*(?:
        (?P<str>"(?:[^"\\]|\\.)*")
      | (?P<raw>`[^`]*`)
      | (?P<num>-?\d+(?:\.\d+)?)
      | (?P<field>(?:\$[A-Za-z0-9_]*)?(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.|\$[A-Za-z0-9_]*)
      | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<punct>[|(),]|:=|=)
    )"""
_token_re: re.Pattern[str] | None = None


def _token() -> re.Pattern[str]:
    # Compiled on first use: listing with the default table never needs it.
    global _token_re
    if _token_re is None:
        _token_re = re.compile(_TOKEN_PATTERN, re.VERBOSE)
    return _token_re


def _lex_action(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _token().match(text, pos)
        if match is None or match.end() == pos:
            raise TemplateError(f"unexpected {text[pos : pos + 10]!r} in command")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tokens


# Nodes: ("text", s) | ("action", pipeline) | ("if"|"with", pipeline, body, else_body)
#        | ("range", pipeline, body, else_body, var_names)
Node = tuple[Any, ...]


class Template:
    """A parsed Go template (the subset docker users write). `render(dot)` returns the text."""

    def __init__(self, source: str, functions: Mapping[str, Callable[..., Any]] | None = None) -> None:
        self.source = source
        self.functions = dict(functions or FUNCTIONS)
        self.nodes = self._parse(source)

    # -- parsing ----------------------------------------------------------------------------
    def _parse(self, source: str) -> list[Node]:
        pieces: list[tuple[str, str]] = []
        pos = 0
        while True:
            start = source.find("{{", pos)
            if start < 0:
                pieces.append(("text", source[pos:]))
                break
            text = source[pos:start]
            end = source.find("}}", start + 2)
            if end < 0:
                raise TemplateError("unclosed action")
            inner = source[start + 2 : end]
            if inner.startswith("-") and (len(inner) == 1 or inner[1] in " \t\r\n"):
                text = text.rstrip()
                inner = inner[1:]
            trim_right = inner.endswith("-") and (len(inner) == 1 or inner[-2] in " \t\r\n")
            if trim_right:
                inner = inner[:-1]
            pieces.append(("text", text))
            pieces.append(("action", inner.strip()))
            pos = end + 2
            if trim_right:
                while pos < len(source) and source[pos] in " \t\r\n":
                    pos += 1
        nodes, stop, _ = self._parse_list(pieces, 0)
        if stop is not None:
            raise TemplateError(f"unexpected {{{{{stop}}}}}")
        return nodes

    def _parse_list(self, pieces: list[tuple[str, str]], i: int) -> tuple[list[Node], str | None, int]:
        nodes: list[Node] = []
        while i < len(pieces):
            kind, value = pieces[i]
            i += 1
            if kind == "text":
                if value:
                    nodes.append(("text", value))
                continue
            if value.startswith("/*"):
                continue
            word = value.split(None, 1)[0] if value else ""
            if word in ("end", "else"):
                return nodes, value, i
            if word in ("if", "with", "range"):
                node, i = self._parse_control(word, value[len(word) :], pieces, i)
                nodes.append(node)
                continue
            nodes.append(("action", self._parse_pipeline(_lex_action(value))))
        return nodes, None, i

    def _parse_control(self, word: str, rest: str, pieces: list[tuple[str, str]], i: int) -> tuple[Node, int]:
        tokens = _lex_action(rest)
        variables: list[str] = []
        if word == "range" and any(t == (("punct", ":=")) for t in tokens):
            split = tokens.index(("punct", ":="))
            variables = [t[1] for t in tokens[:split] if t[0] == "field"]
            tokens = tokens[split + 1 :]
        pipeline = self._parse_pipeline(tokens)
        body, stop, i = self._parse_list(pieces, i)
        else_body: list[Node] = []
        if stop is None:
            raise TemplateError(f"unexpected EOF in {word}")
        if stop.startswith("else"):
            rest_else = stop[len("else") :].strip()
            if rest_else.startswith("if ") and word == "if":
                nested, i = self._parse_control("if", rest_else[2:], pieces, i)
                return (word, pipeline, body, [nested], variables), i
            else_body, stop, i = self._parse_list(pieces, i)
            if stop != "end":
                raise TemplateError(f"expected end in {word}")
        return (word, pipeline, body, else_body, variables), i

    def _parse_pipeline(self, tokens: list[tuple[str, str]]) -> list[list[Any]]:
        if not tokens:
            raise TemplateError("missing value for command")
        commands: list[list[Any]] = [[]]
        i = 0
        while i < len(tokens):
            kind, value = tokens[i]
            if kind == "punct" and value == "|":
                commands.append([])
                i += 1
                continue
            if kind == "punct" and value == "(":
                depth, j = 1, i + 1
                while j < len(tokens) and depth:
                    if tokens[j] == ("punct", "("):
                        depth += 1
                    elif tokens[j] == ("punct", ")"):
                        depth -= 1
                    j += 1
                if depth:
                    raise TemplateError("unclosed left paren")
                commands[-1].append(("pipe", self._parse_pipeline(tokens[i + 1 : j - 1])))
                i = j
                continue
            if kind == "punct":
                raise TemplateError(f"unexpected {value!r} in command")
            if kind == "ident" and value not in ("true", "false", "nil") and value not in self.functions:
                raise TemplateError(f'function "{value}" not defined')
            commands[-1].append((kind, value))
            i += 1
        if any(not c for c in commands):
            raise TemplateError("missing command in pipeline")
        return commands

    # -- evaluation ---------------------------------------------------------------------------
    def render(self, dot: Any) -> str:
        out: list[str] = []
        self._exec(self.nodes, dot, {"$": dot}, out)
        return "".join(out)

    def _exec(self, nodes: list[Node], dot: Any, env: dict[str, Any], out: list[str]) -> None:
        for node in nodes:
            kind = node[0]
            if kind == "text":
                out.append(node[1])
            elif kind == "action":
                out.append(go_print(self._pipeline(node[1], dot, env)))
            elif kind == "if":
                if _truthy(self._pipeline(node[1], dot, env)):
                    self._exec(node[2], dot, env, out)
                else:
                    self._exec(node[3], dot, env, out)
            elif kind == "with":
                value = self._pipeline(node[1], dot, env)
                if _truthy(value):
                    self._exec(node[2], value, env, out)
                else:
                    self._exec(node[3], dot, env, out)
            elif kind == "range":
                value = self._pipeline(node[1], dot, env)
                items: list[tuple[Any, Any]]
                if value is None or value is _NO_VALUE:
                    items = []
                elif isinstance(value, Mapping):
                    items = [(k, value[k]) for k in sorted(value)]
                elif isinstance(value, list | tuple):
                    items = list(enumerate(value))
                elif isinstance(value, int):
                    items = [(i, i) for i in range(value)]
                else:
                    raise TemplateError(f"range can't iterate over {go_print(value)}")
                if not items:
                    self._exec(node[3], dot, env, out)
                for key, item in items:
                    scope = dict(env)
                    names = node[4]
                    if len(names) == 1:
                        scope[names[0]] = item
                    elif len(names) == 2:
                        scope[names[0]], scope[names[1]] = key, item
                    self._exec(node[2], item, scope, out)

    def _pipeline(self, commands: list[list[Any]], dot: Any, env: dict[str, Any]) -> Any:
        result: Any = _NO_VALUE
        for n, command in enumerate(commands):
            extra = [result] if n > 0 else []
            result = self._command(command, dot, env, extra)
        return result

    def _command(self, command: list[Any], dot: Any, env: dict[str, Any], extra: list[Any]) -> Any:
        head_kind, head = command[0]
        if head_kind == "ident" and head not in ("true", "false", "nil"):
            args = [self._arg(a, dot, env) for a in command[1:]] + extra
            try:
                return self.functions[head](*args)
            except TemplateError:
                raise
            except (TypeError, ValueError, AttributeError, IndexError, KeyError, StopIteration) as exc:
                raise TemplateError(f"error calling {head}: {exc}") from None
        if len(command) > 1 or extra:
            raise TemplateError(f"can't give argument to non-function {head}")
        return self._arg(command[0], dot, env)

    def _arg(self, token: tuple[str, Any], dot: Any, env: dict[str, Any]) -> Any:
        kind, value = token
        if kind == "pipe":
            return self._pipeline(value, dot, env)
        if kind == "str":
            return json.loads(value)
        if kind == "raw":
            return value[1:-1]
        if kind == "num":
            return float(value) if "." in value else int(value)
        if kind == "ident":
            return {"true": True, "false": False, "nil": None}.get(value)
        if kind == "field":
            if value == ".":
                return dot
            base = dot
            path = value
            if value.startswith("$"):
                name, _, path = value.partition(".")
                if name not in env:
                    raise TemplateError(f"undefined variable: {name}")
                base = env[name]
                if not path:
                    return base
                path = "." + path
            for part in path.split(".")[1:]:
                base = self._field(base, part)
            return base
        raise TemplateError(f"unexpected {value!r}")

    @staticmethod
    def _field(value: Any, name: str) -> Any:
        if isinstance(value, Struct):
            return value.get(name)
        if isinstance(value, Mapping):
            return value.get(name, _NO_VALUE)
        if value is None or value is _NO_VALUE:
            return _NO_VALUE  # like a field of a nil map in docker's typed structs
        raise TemplateError(f"can't evaluate field {name} in type {type(value).__name__}")


# ------------------------------------------------------------------------- formatter glue


def is_table(fmt: str) -> bool:
    return fmt.startswith("table")


def prepare_format(fmt: str) -> str:
    """docker's preFormat: drop `table`, map `json` to `{{json .}}`, trim, unescape \\t and \\n."""
    if is_table(fmt):
        fmt = fmt[len("table") :]
    elif fmt == "json":
        fmt = "{{json .}}"
    fmt = fmt.strip(" ")
    return fmt.replace("\\t", "\t").replace("\\n", "\n")


def format_rows(fmt: str, rows: Iterable[Any], header: Mapping[str, str] | None = None) -> str:
    """Render `rows` with a docker format string; a `table` format gets a header and columns.

    Returns the text to print (each row ends with a newline; empty when there is nothing).
    """
    table = is_table(fmt)
    source = prepare_format(fmt)
    try:
        template = Template(source)
        body = "".join(template.render(row) + "\n" for row in rows)
        if not table:
            return body
        head = Template(source, HEADER_FUNCTIONS).render(dict(header or {}))
    except TemplateError as exc:
        raise TemplateError(f"template: {exc}") from None
    return tabwrite(head + "\n" + body)


def render_template(fmt: str, value: Any) -> str:
    """One value through a non-table template (inspect -f)."""
    try:
        return Template(prepare_format(fmt)).render(value)
    except TemplateError as exc:
        raise TemplateError(f"template: {exc}") from None


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A plain docker table from cells."""
    lines = ["\t".join(header)] + ["\t".join(row) for row in rows]
    return tabwrite("\n".join(lines) + "\n")
