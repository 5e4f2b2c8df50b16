"""The API reference page (``/admin/docs``, ``/portal/docs``): the OpenAPI document
rendered as one self-contained HTML page on the server.

FastAPI's default page loads Swagger UI from a CDN, so it was blank on a machine
without internet — where a trusted-access gateway often runs. This one needs nothing
but the server: no script, no external style or font; every operation with its
parameters, body, responses and their schemas, linked to the schema definitions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

METHODS = ("get", "post", "put", "patch", "delete")
HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
STYLE = """
body{font:15px/1.45 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}
h1{font-size:1.6rem}h2{margin-top:2.2rem;border-bottom:1px solid #d0d7de}h3{font-size:1rem;margin:1.6rem 0 .3rem}
code,.path{font-family:ui-monospace,monospace;font-size:.92em}
.method{display:inline-block;min-width:4.2em;font-weight:600;text-transform:uppercase}
.get{color:#0a5d2c}.post{color:#0b4ea2}.put{color:#7a4b00}.delete{color:#a40e26}.patch{color:#6b3fa0}
table{border-collapse:collapse;margin:.3rem 0 .8rem}td,th{border:1px solid #d0d7de;padding:.2rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}nav ul{columns:2}p.note{color:#57606a}
"""


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type(schema: dict[str, Any]) -> str:
    """A schema in a few words: its type (linked if a named schema) and constraints."""
    if "$ref" in schema:
        name = escape(_ref_name(schema["$ref"]))
        return f'<a href="#schema-{name}">{name}</a>'
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            joiner = " and " if combinator == "allOf" else " or "
            return joiner.join(_type(s) for s in schema[combinator])
    kind = schema.get("type", "any")
    if kind == "array":
        text = f"array of {_type(schema.get('items', {}))}"
    elif "enum" in schema:
        text = " | ".join(f"<code>{escape(str(v))}</code>" for v in schema["enum"])
    elif "const" in schema:
        text = f"<code>{escape(str(schema['const']))}</code>"
    else:
        text = escape(str(kind))
        if schema.get("format"):
            text += f" ({escape(str(schema['format']))})"
    limits = [
        escape(f"{label} {schema[key]}")
        for key, label in (
            ("minimum", "≥"),
            ("maximum", "≤"),
            ("exclusiveMinimum", ">"),
            ("exclusiveMaximum", "<"),
            ("minLength", "length ≥"),
            ("maxLength", "length ≤"),
            ("minItems", "items ≥"),
            ("maxItems", "items ≤"),
        )
        if key in schema
    ]
    if "pattern" in schema:
        limits.append(f"matching <code>{escape(schema['pattern'])}</code>")
    return text + (f" <small>({', '.join(limits)})</small>" if limits else "")


def _properties(schema: dict[str, Any]) -> Iterator[str]:
    required = set(schema.get("required", ()))
    yield "<table><tr><th>field</th><th>type</th><th>required</th><th>description</th></tr>"
    for name, prop in schema.get("properties", {}).items():
        description = escape(prop.get("description") or prop.get("title") or "")
        yield (
            f"<tr><td><code>{escape(name)}</code></td><td>{_type(prop)}</td>"
            f"<td>{'yes' if name in required else ''}</td><td>{description}</td></tr>"
        )
    yield "</table>"


def _operation(path: str, method: str, op: dict[str, Any]) -> Iterator[str]:
    anchor = escape(op.get("operationId") or f"{method}-{path}")
    yield (
        f'<h3 id="{anchor}"><span class="method {method}">{method}</span> '
        f'<span class="path">{escape(path)}</span></h3>'
    )
    if op.get("summary"):
        yield f"<p>{escape(op['summary'])}</p>"
    if op.get("description"):
        yield f"<p>{escape(op['description'])}</p>"
    parameters = op.get("parameters", [])
    if parameters:
        yield "<table><tr><th>parameter</th><th>in</th><th>type</th><th>required</th></tr>"
        for p in parameters:
            yield (
                f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
                f"<td>{_type(p.get('schema', {}))}</td>"
                f"<td>{'yes' if p.get('required') else ''}</td></tr>"
            )
        yield "</table>"
    body = op.get("requestBody", {}).get("content", {})
    for media, content in body.items():
        yield f"<p>Body ({escape(media)}): {_type(content.get('schema', {}))}</p>"
    responses = op.get("responses", {})
    if responses:
        yield "<table><tr><th>status</th><th>meaning</th><th>body</th></tr>"
        for status, response in responses.items():
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            yield (
                f"<tr><td>{escape(str(status))}</td>"
                f"<td>{escape(response.get('description', ''))}</td>"
                f"<td>{_type(schema) if schema else ''}</td></tr>"
            )
        yield "</table>"


def render(document: dict[str, Any], openapi_url: str) -> str:
    """The whole page for an OpenAPI ``document``."""
    info = document.get("info", {})
    title = escape(str(info.get("title", "API")))
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                op = item[method]
                by_tag.setdefault((op.get("tags") or ["other"])[0], []).append((path, method, op))
    parts = [
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>",
        f"<meta name=viewport content='width=device-width'><style>{STYLE}</style></head><body>",
        f"<h1>{title} <small>{escape(str(info.get('version', '')))}</small></h1>",
        f'<p class=note>The machine-readable document: <a href="{escape(openapi_url)}">'
        f"{escape(openapi_url)}</a>.</p><nav><ul>",
        *(f'<li><a href="#tag-{escape(tag)}">{escape(tag)}</a></li>' for tag in by_tag),
        '<li><a href="#schemas">schemas</a></li></ul></nav>',
    ]
    for tag, operations in by_tag.items():
        parts.append(f'<h2 id="tag-{escape(tag)}">{escape(tag)}</h2>')
        for path, method, op in operations:
            parts.extend(_operation(path, method, op))
    parts.append('<h2 id="schemas">Schemas</h2>')
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        parts.append(f'<h3 id="schema-{escape(name)}">{escape(name)}</h3>')
        if schema.get("description"):
            parts.append(f"<p>{escape(schema['description'])}</p>")
        if "properties" in schema:
            parts.extend(_properties(schema))
        else:
            parts.append(f"<p>{_type(schema)}</p>")
    parts.append("</body></html>")
    return "".join(parts)


def reference_route(
    openapi: Callable[[], dict[str, Any]], openapi_url: str
) -> Callable[[Request], Any]:
    """A route answering with the page; ``openapi`` gives the (cached) document."""
    page: list[str] = []

    async def docs(_request: Request) -> HTMLResponse:
        if not page:
            page.append(render(openapi(), openapi_url))
        return HTMLResponse(page[0], headers=HEADERS)

    return docs
