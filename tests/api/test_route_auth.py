"""Every route checks who is asking: enumerate the routes, fail on any without an auth dependency, and check
each role against each protected route.

The routes are those the application really serves: FastAPI keeps an included router as one entry of
``app.routes``, so the walk goes through ``fastapi.routing.iter_route_contexts`` to every route with its full
path, and a test checks that it finds every operation of the OpenAPI document and every page.
"""

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from shopfloor.api.deps import PERMISSIONS, current_principal
from shopfloor.app import PUBLIC_ROUTES
from shopfloor.web.pages import page_user
from tests.conftest import ROLES


def _dependency_calls(dependant):
    for dep in dependant.dependencies:
        yield dep.call
        yield from _dependency_calls(dep)


def _permission(route: APIRoute):
    for call in _dependency_calls(route.dependant):
        if hasattr(call, "permission"):
            return call.permission
    return None


def _routes(app):
    """(method, full path, route) of every route of the application, included routers walked through."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            for method in sorted(context.methods or ()):
                yield method, context.path, route


def test_the_walk_finds_every_operation_and_every_page(app):
    walked = {(method, path) for method, path, _ in _routes(app)}
    documented = {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops}
    assert documented <= walked
    pages = {(m, p) for m, p, r in _routes(app) if not r.include_in_schema}
    assert {("GET", "/board"), ("GET", "/terminal"), ("POST", "/lots/{code}/action"), ("GET", "/quality")} <= pages
    assert len(walked) == len(documented) + len(pages) > 90


def test_every_route_is_authenticated_or_declared_public(app):
    unguarded = []
    for method, path, route in _routes(app):
        if (method, path) in PUBLIC_ROUTES:
            continue
        calls = set(_dependency_calls(route.dependant))
        if current_principal not in calls and page_user not in calls:
            unguarded.append(f"{method} {path}")
    assert unguarded == []


def _example_path(path: str) -> str:
    return path.replace("{code}", "WLD-01")


def test_anonymous_requests_to_protected_routes_get_401(app, anonymous):
    for method, path, route in _routes(app):
        if (method, path) in PUBLIC_ROUTES:
            continue
        r = anonymous.request(method, _example_path(path), follow_redirects=False)
        if page_user in set(_dependency_calls(route.dependant)):
            assert r.status_code == 303 and "login" in r.headers["location"], f"{method} {path}: {r.status_code}"
        else:
            assert r.status_code == 401, f"{method} {path}: {r.status_code}"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_allowed_exactly_what_its_permissions_say(app, as_role, role):
    client = as_role(role)
    for method, path, route in _routes(app):
        permission = _permission(route)
        if permission is None:
            continue
        r = client.request(method, _example_path(path), json=[] if method == "POST" else None)
        allowed = role in PERMISSIONS[permission]
        if allowed:
            assert r.status_code not in (401, 403), f"{role} {method} {path}: {r.status_code} {r.text}"
        else:
            assert r.status_code == 403, f"{role} {method} {path}: {r.status_code}"
