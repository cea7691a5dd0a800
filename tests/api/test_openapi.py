"""The OpenAPI document, the docs page and docs/api.md agree with each other and with the app.

The document is built from :mod:`earmark.api.spec.endpoints`; these tests tie that table to what the
app really serves (its routes, the parameters its handlers read, the error codes, the ``meta``
flags) and check the document's structure as OpenAPI 3.1 (no validator package is installed,
so the rules that matter are checked here).
"""

from __future__ import annotations

import ast
import importlib
import json
import re
import shutil
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from earmark.api import app, errors
from earmark.api.spec import docs, endpoints, openapi
from earmark.api.transport import Transport
from earmark.musicbrainz.flags import SHORTCUTS, Flag
from tests.api.harness import ApiHarness

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "src" / "earmark" / "api" / "spec" / "static"
DOCS_PATHS = {route.path for route in docs.routes() if isinstance(route, Route)}
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
#: Modules the handlers share; the parameters they read (format, jsoncallback, secret, and the
#: default ``client``/``user`` of Call.application()/Call.user()) are in endpoints.COMMON_PARAMS
#: or in every endpoint that uses them.
FOUNDATIONS = {"call", "params", "errors", "formats", "services", "transport", "app", "metrics"}
READ_BY_FOUNDATIONS = {"format", "jsoncallback", "secret", "client", "user"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(openapi.document_bytes())
    return loaded


@pytest.fixture
def docs_client() -> Iterator[TestClient]:
    """Only the documentation routes, behind the API's transport middleware."""
    not_found = {404: app._not_found, 405: app._not_found}  # as the API app answers them
    routes = docs.routes()
    with TestClient(Transport(Starlette(routes=routes, exception_handlers=not_found))) as client:
        yield client


# --- structure --------------------------------------------------------------------------------


def _walk(node: Any, where: str = "#") -> Iterator[tuple[str, Any]]:
    yield where, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{where}/{i}")


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only local references are used: {ref}"
    node: Any = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), f"unresolved $ref {ref}"
        assert part in node, f"unresolved $ref {ref}"
        node = node[part]
    return node


def test_document_has_the_required_openapi_31_structure(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    assert document["info"]["title"]
    assert document["info"]["version"]
    assert isinstance(document["paths"], dict)
    assert document["paths"]
    operation_ids: list[str] = []
    for path, item in document["paths"].items():
        assert path.startswith("/v2/"), path
        assert "{" not in path, "no path templates: every endpoint has a fixed path"
        operations = {k: v for k, v in item.items() if k in METHODS}
        assert set(operations) == {"get", "post"}, path
        for method, operation in operations.items():
            operation_ids.append(operation["operationId"])
            assert operation["responses"], (path, method)
            for status, response in operation["responses"].items():
                assert re.fullmatch(r"[1-5][0-9][0-9]|default", status), status
                if "$ref" not in response:
                    assert response["description"]
            parameters = [*item.get("parameters", []), *operation.get("parameters", [])]
            keys = [(p["name"], p["in"]) for p in parameters]
            assert len(keys) == len(set(keys)), f"duplicate parameters in {path} {method}"
            for parameter in parameters:
                assert parameter["name"], parameter
                assert parameter["in"] in {"query", "header"}, parameter
                assert "schema" in parameter, parameter
                assert isinstance(parameter.get("required", False), bool)
            if method == "post":
                body = operation["requestBody"]["content"]
                assert set(body) == {"application/x-www-form-urlencoded", "multipart/form-data"}
    assert len(operation_ids) == len(set(operation_ids)), "operationId must be unique"


def test_every_ref_resolves(document: dict[str, Any]) -> None:
    refs = [
        node["$ref"]
        for _, node in _walk(document)
        if isinstance(node, dict) and isinstance(node.get("$ref"), str)
    ]
    assert len(refs) > 50, "the document uses components"
    for ref in refs:
        target = _resolve(document, ref)
        assert isinstance(target, dict)
        assert target


def test_every_schema_uses_json_schema_types(document: dict[str, Any]) -> None:
    allowed = {"string", "integer", "number", "boolean", "object", "array", "null"}
    for where, node in _walk(document):
        example = "/examples/" in where or where.endswith("/example")
        if isinstance(node, dict) and "type" in node and not example:
            types = node["type"] if isinstance(node["type"], list) else [node["type"]]
            if all(isinstance(t, str) for t in types):
                assert set(types) <= allowed, where


# --- the document against the app and the code ------------------------------------------------


def _served_v2_paths() -> set[str]:
    return {
        route.path
        for route in app.routes()
        if isinstance(route, Route) and route.path.startswith("/v2/")
    } - DOCS_PATHS


def _declared_v2_paths() -> set[str]:
    return {path for module in app.ENVELOPE_MODULES for path, _, _ in module.ROUTES}


def test_every_served_v2_route_is_documented_and_vice_versa(document: dict[str, Any]) -> None:
    served = _served_v2_paths()
    assert served == _declared_v2_paths()
    documented = set(document["paths"])
    assert served - documented == set(), "served but not documented"
    assert documented - served == set(), "documented but not served"


def _helper_modules(module: ModuleType) -> list[ModuleType]:
    """``module`` and the earmark.api modules it imports that are neither foundations nor
    route modules of their own (lookup → lookup_work, submit → submit_params)."""
    found = [module]
    tree = ast.parse(Path(module.__file__ or "").read_text())
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("earmark.api.")
        ):
            name = node.module.removeprefix("earmark.api.")
            helper = importlib.import_module(node.module)
            if name not in FOUNDATIONS and not hasattr(helper, "ROUTES"):
                found.append(helper)
    return found


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _names_read(tree: ast.AST) -> set[str]:
    """Parameter names the code reads: literal arguments of ``params.get/getlist/suffixes``,
    ``call.required``, ``suffixed``, ``helper(call, "name")``, local ``get``/``name`` helpers,
    and the defaults of ``call.application()``/``call.user()``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        args = [_literal(a) for a in node.args]
        if isinstance(func, ast.Attribute):
            receiver = func.value
            receiver_name = (
                receiver.attr
                if isinstance(receiver, ast.Attribute)
                else receiver.id
                if isinstance(receiver, ast.Name)
                else ""
            )
            if receiver_name == "params" and func.attr in {"get", "getlist", "suffixes"}:
                names.update(a for a in args if a)
            elif receiver_name == "call" and func.attr in {"required", "application", "user"}:
                default = {"required": None, "application": "client", "user": "user"}[func.attr]
                names.add(args[0] if args and args[0] else default or "")
        elif isinstance(func, ast.Name):
            first_is_call = bool(node.args) and isinstance(node.args[0], ast.Name)
            if (func.id == "suffixed" and args and args[0]) or (
                func.id in {"get", "name"} and len(args) == 1 and args[0]
            ):
                names.add(args[0])
            elif first_is_call and node.args[0].id == "call" and len(args) > 1 and args[1]:  # type: ignore[attr-defined]
                names.add(args[1])
    names.discard("")
    return names


def _literals(tree: ast.AST) -> set[str]:
    return {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def _route_modules() -> list[ModuleType]:
    return [module for module in app.ENVELOPE_MODULES if module.ROUTES]


@pytest.mark.parametrize("module", _route_modules(), ids=lambda m: m.__name__)
def test_every_parameter_a_handler_reads_is_documented(module: ModuleType) -> None:
    by_path = {e.path: e for e in endpoints.ENDPOINTS}
    documented = {
        p.name
        for path, _, _ in module.ROUTES
        if path in by_path
        for p in (*by_path[path].params, *endpoints.COMMON_PARAMS)
    }
    trees = [ast.parse(Path(m.__file__ or "").read_text()) for m in _helper_modules(module)]
    read = set().union(*(_names_read(tree) for tree in trees))
    legacy_only = {"length", "format"}  # v1 names (/lookup, /submit), outside the /v2 document
    assert read, "the scan found the handler's parameters"
    assert read - documented - legacy_only == set()


@pytest.mark.parametrize("endpoint", endpoints.ENDPOINTS, ids=lambda e: e.path)
def test_every_documented_parameter_appears_in_its_handler(endpoint: endpoints.Endpoint) -> None:
    handlers = {path: handler for m in app.ENVELOPE_MODULES for path, _, handler in m.ROUTES}
    if endpoint.path not in handlers:
        pytest.fail(f"{endpoint.path} is documented but no module declares it")
    module = sys.modules[handlers[endpoint.path].__module__]
    trees = [ast.parse(Path(m.__file__ or "").read_text()) for m in _helper_modules(module)]
    literals = set().union(*(_literals(tree) for tree in trees)) | READ_BY_FOUNDATIONS
    assert {p.name for p in endpoint.params if p.used} - literals == set()


def test_error_codes_match_the_errors_module(document: dict[str, Any]) -> None:
    listed = {(e["code"], e["name"], e["status"]) for e in document["x-earmark-errors"]}
    assert listed == {(c.code, c.name, c.status) for c in errors.ALL_CODES}
    envelope = document["components"]["schemas"]["ErrorEnvelope"]
    assert envelope["properties"]["error"]["properties"]["code"]["enum"] == [
        c.code for c in errors.ALL_CODES
    ]
    for info in document["x-earmark-errors"]:
        assert f"Error{info['status']}" in document["components"]["responses"]
    for status in (429, 503):
        assert "Retry-After" in document["components"]["responses"][f"Error{status}"]["headers"]
    # An error message is the constructor's: a sample with a real name matches the pattern.
    message = next(e["message"] for e in document["x-earmark-errors"] if e["code"] == 7)
    assert errors.invalid_uuid("mbid").message == message.replace("<name>", "mbid")


def test_every_operation_lists_existing_error_codes_with_their_statuses(
    document: dict[str, Any],
) -> None:
    by_code = {c.code: c.status for c in errors.ALL_CODES}
    for item in document["paths"].values():
        for method in ("get", "post"):
            operation = item[method]
            codes = operation["x-earmark-error-codes"]
            assert set(codes) <= set(by_code)
            assert {str(by_code[c]) for c in codes} | {"200"} == set(operation["responses"])


def test_meta_flags_match_the_parser(document: dict[str, Any]) -> None:
    assert {f["name"] for f in document["x-earmark-meta-flags"]} == {f.value for f in Flag}
    assert set(document["x-earmark-meta-shortcuts"]) == set(SHORTCUTS)


# --- examples and real answers against the schemas --------------------------------------------


def _check(document: dict[str, Any], schema: dict[str, Any], value: Any, where: str) -> None:
    """A JSON Schema subset (the keywords the document uses) — raises AssertionError."""
    if "$ref" in schema:
        _check(document, _resolve(document, schema["$ref"]), value, where)
        return
    if "oneOf" in schema:
        matched = 0
        for alternative in schema["oneOf"]:
            try:
                _check(document, alternative, value, where)
            except AssertionError:
                continue
            matched += 1
        assert matched == 1, f"{where}: {matched} alternatives of oneOf match"
        return
    for part in schema.get("allOf", []):
        _check(document, part, value, where)
    kinds = schema.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        python: dict[str, type | tuple[type, ...]] = {
            "string": str,
            "integer": int,
            "number": (int, float),
            "boolean": bool,
            "object": dict,
            "array": list,
            "null": type(None),
        }
        ok = any(
            isinstance(value, python[k]) and not (k in ("integer", "number") and value is True)
            for k in kinds
        )
        assert ok, f"{where}: {value!r} is not {kinds}"
    if "const" in schema:
        assert value == schema["const"], where
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if isinstance(value, dict):
        for key in schema.get("required", []):
            assert key in value, f"{where}: {key} missing"
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                _check(document, sub, value[key], f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            _check(document, schema["items"], item, f"{where}[{i}]")


def test_examples_follow_their_schemas_and_use_documented_parameters(
    document: dict[str, Any],
) -> None:
    seen = 0
    for endpoint in endpoints.ENDPOINTS:
        documented = {p.name for p in (*endpoint.params, *endpoints.COMMON_PARAMS)}
        content = document["paths"][endpoint.path]["get"]["responses"]["200"]["content"]
        json_content = content["application/json"]
        for example in json_content.get("examples", {}).values():
            seen += 1
            _check(document, json_content["schema"], example["value"], endpoint.path)
            for pair in example["x-earmark-query"].split("&"):
                name = re.sub(r"\.[0-9]+$", "", pair.split("=", 1)[0])
                assert name in documented, (endpoint.path, name)
    assert seen >= 9


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_real_answers_follow_the_document(api: ApiHarness, document: dict[str, Any]) -> None:
    def schema(path: str, status: str = "200") -> dict[str, Any]:
        response = document["paths"][path]["get"]["responses"][status]
        if "$ref" in response:
            response = _resolve(document, response["$ref"])
        found: dict[str, Any] = response["content"]["application/json"]["schema"]
        return found

    cases: list[tuple[str, dict[str, str | list[str]], str]] = [
        ("/v2/user/lookup", {"user": api.user_key}, "200"),
        ("/v2/user/create_anonymous", {"client": api.client_key}, "200"),
        ("/v2/track/list_by_mbid", {"mbid": str(uuid.uuid4())}, "200"),
        ("/v2/track/list_by_mbid", {"mbid": [str(uuid.uuid4())] * 2, "batch": "1"}, "200"),
        ("/v2/track/list_by_puid", {"puid": str(uuid.uuid4())}, "200"),
        ("/v2/submission_status", {"client": api.client_key, "id": ["1", "x"]}, "200"),
        ("/v2/fingerprint", {"id": "999"}, "404"),
        ("/v2/lookup", {}, "400"),
        ("/v2/user/lookup", {"user": "nobody"}, "400"),
    ]
    for path, params, status in cases:
        response = api.client.get(path, params=params)
        assert str(response.status_code) == status, (path, response.text)
        assert response.headers["content-type"].startswith("application/json")
        _check(document, schema(path, status), response.json(), path)


# --- docs/api.md ------------------------------------------------------------------------------


def _api_md() -> str:
    return (ROOT / "docs" / "api.md").read_text()


def _section(text: str, path: str) -> str:
    """The text under the heading naming ``path``, up to the next heading of that level."""
    match = re.search(rf"^(#+) .*`{re.escape(path)}`.*$", text, re.M)
    assert match, f"docs/api.md has no section for {path}"
    level = len(match.group(1))
    rest = text[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest[: end.start()] if end else rest


@pytest.mark.parametrize("endpoint", endpoints.ENDPOINTS, ids=lambda e: e.path)
def test_api_md_documents_each_endpoint_and_its_parameters(endpoint: endpoints.Endpoint) -> None:
    section = _section(_api_md(), endpoint.path)
    for param in endpoint.params:
        label = f"`{param.name}.N`" if param.suffixed else f"`{param.name}`"
        assert re.search(rf"^\| *{re.escape(label)}", section, re.M) or re.search(
            rf"^\| *`{re.escape(param.name)}`", section, re.M
        ), f"{endpoint.path}: parameter {param.name} not in its table"


def test_api_md_lists_every_error_code_flag_and_the_compatibility_notes() -> None:
    text = _api_md()
    for info in endpoints.ERRORS:
        row = re.search(rf"^\| *{info.code} *\| *`{info.name}` *\|(.*)$", text, re.M)
        assert row, f"error {info.code} missing from docs/api.md"
        assert f"| {info.status} |" in row.group(0), info.code
    for flag in Flag:
        assert f"`{flag.value}`" in text
    assert "compatibility.md" in text
    assert "fpcalc -json" in text
    assert "Content-Encoding: gzip" in text


# --- the docs page and its assets -------------------------------------------------------------


def test_openapi_json_is_served(docs_client: TestClient, document: dict[str, Any]) -> None:
    response = docs_client.get("/v2/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json() == document
    again = docs_client.get("/v2/openapi.json", headers={"If-None-Match": response.headers["etag"]})
    assert (again.status_code, again.content) == (304, b"")


def test_docs_page_and_assets_are_served_with_their_types(docs_client: TestClient) -> None:
    page = docs_client.get("/v2/docs")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    references = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "/v2/docs/static/docs.js" in references
    assert "/v2/docs/static/docs.css" in references
    expected = {".js": "text/javascript", ".css": "text/css", ".json": "application/json"}
    for reference in references:
        assert reference.startswith("/v2/"), f"only this server's files: {reference}"
        response = docs_client.get(reference)
        assert response.status_code == 200, reference
        media = expected[Path(reference).suffix]
        assert response.headers["content-type"].startswith(media), reference
        assert response.headers["x-content-type-options"] == "nosniff"
    for path in ("/v2/docs/", "//v2//docs"):
        assert docs_client.get("http://testserver" + path).status_code == 200


@pytest.mark.parametrize(
    "name",
    [
        "docs.html",
        "DOCS.JS",
        "..%2Fopenapi.py",
        "%2e%2e%2f%2e%2e%2fapidocs.py",
        "docs.js%00",
        "docs.js.map",
        "x" * 5000,
        "%C0%AE%C0%AE%2Fdocs.js",
    ],
)
def test_unknown_or_hostile_asset_names_get_the_404_envelope(
    docs_client: TestClient, name: str
) -> None:
    response = docs_client.get(f"/v2/docs/static/{name}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == errors.UNKNOWN_ENDPOINT.code


def test_traversal_paths_do_not_reach_the_package(docs_client: TestClient) -> None:
    for path in ("/v2/docs/static/../openapi.py", "/v2/docs/static/", "/v2/docs/static"):
        response = docs_client.get(path)
        assert response.status_code == 404, path
        assert b"import" not in response.content


def test_assets_reference_no_external_url() -> None:
    for asset in sorted(STATIC.iterdir()):
        text = asset.read_text()
        assert not re.search(r"https?://", text), asset.name
        assert not re.search(r"""(?:src|href|url)\s*[=(]\s*["']?//""", text), asset.name
        assert "@import" not in text, asset.name
        assert "cdn" not in text.lower(), asset.name
    assert {p.name for p in STATIC.iterdir()} == {docs.PAGE, *docs.ASSETS}


def test_the_document_names_no_external_server(document: dict[str, Any]) -> None:
    assert document["servers"] == [{"url": "/", "description": "This server."}]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_docs_script_parses() -> None:
    node = shutil.which("node") or "node"
    result = subprocess.run(
        [node, "--check", str(STATIC / "docs.js")], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr


def test_static_files_ship_with_the_package() -> None:
    """pyproject's package-data must include the page and its assets (else an installed
    package answers /v2/docs with an internal error)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["earmark"]
    assert "api/spec/static/*" in patterns
