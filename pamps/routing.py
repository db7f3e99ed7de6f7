"""FastAPI routes that resolve simple parameters without the general solver.

FastAPI resolves an operation's dependencies anew on every request, through
code general enough for bodies, forms, yield-dependencies, scopes and
overrides: the framework's largest cost on a cheap read ("LeanRoute" row of
docs/performance.md). Most of Pamps' routes need none of that generality:
they take the request, path and query parameters of single values, at most
one JSON body of one model, and dependencies that take only the request or
other such dependencies.

Isolated here, used only on the FastAPI versions tests/test_routing.py has
checked (:data:`TESTED_FASTAPI`), and switched off by ``server.lean_routes =
false``: the routes are then FastAPI's own.

:class:`LeanRoute` works out once, from FastAPI's own description of the
operation (its ``Dependant``), whether that is so; if it is, a request is
served by a plan doing what the solver would do: check each parameter with
FastAPI's own field (the same pydantic validation, constraints and
conversions; checking first has no effect, the solver checks after the
dependencies), call the dependencies in the solver's order with its
per-request cache, call the endpoint. Whatever the plan does not cover goes
to FastAPI's own handler, untouched:

- a parameter that is missing or invalid, a body that is not exactly
  ``application/json``, empty, not JSON or not valid: FastAPI's handler
  answers (its 422 or 400, errors in its order; nothing has run yet but the
  body's reading, which the request keeps, so handing over changes nothing
  but the cost);
- dependency overrides set on the app (tests), native telemetry;
- operations with forms, several or embedded bodies, headers, cookies, a
  ``Response``, ``BackgroundTasks`` or ``SecurityScopes`` parameter, parameters with
  validators, default factories or aliases, dependencies with parameters of
  their own, scopes, ``yield`` or a class to instantiate, endpoints that are
  not ``async def`` or not annotated to return a ``Response``: never
  planned; nor is any operation if FastAPI no longer tells which
  dependencies an ``include_router`` added.

tests/test_routing.py checks that each planned route answers exactly as
FastAPI's handler does, to valid requests and invalid ones.

:class:`SectionRouter` and :func:`include` spare a request the routes of
the routers it cannot belong to, under the same setting (see there).
"""

import copy
import inspect
import logging
import types
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import Any, Union, get_args, get_origin

import annotated_types
import fastapi
from fastapi import APIRouter, FastAPI, params
from fastapi import routing as fastapi_routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.telemetry import get_telemetry_data
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Scope

from pamps.bodies import NOT_PARSED, PARSED_BODY
from pamps.config import settings

log = logging.getLogger("pamps")

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

SCALARS = (bool, int, float, str)
CONSTRAINTS = (
    annotated_types.Gt,
    annotated_types.Ge,
    annotated_types.Lt,
    annotated_types.Le,
    annotated_types.MinLen,
    annotated_types.MaxLen,
    annotated_types.MultipleOf,
)
# FastAPI hands such defaults over as they are, a deep copy of the others.
_ATOMIC = (type(None), *SCALARS)


class _Param:
    """One path or query parameter: where it is found, how it is checked."""

    __slots__ = ("check_default", "copy_default", "default", "key", "name", "required", "validate")

    def __init__(self, field: Any) -> None:
        info = field.field_info
        self.name: str = field.name
        self.key: str = field.alias
        self.validate = field.validate
        self.required: bool = info.is_required()
        self.default = None if self.required else field.default
        self.copy_default = not isinstance(self.default, _ATOMIC)
        self.check_default = bool(info.validate_default)

    def value(self, found: str | None) -> tuple[Any, bool]:
        """The parameter's value from its text (None: absent), and whether
        FastAPI would accept it."""
        if found is None:
            if self.required:
                return None, False
            default = copy.deepcopy(self.default) if self.copy_default else self.default
            if not self.check_default:
                return default, True
            value, errors = self.validate(default, {}, loc=())
            return value, not errors
        value, errors = self.validate(found, {}, loc=())
        return value, not errors


class _Dependency:
    """A dependency that takes at most the request and other such dependencies."""

    __slots__ = ("call", "children", "name", "request_param")

    def __init__(self, sub: Dependant) -> None:
        assert sub.call is not None
        self.name = sub.name  # None for a route's ``dependencies=[...]``
        self.call: Callable[..., Any] = sub.call
        self.request_param = sub.request_param_name
        self.children = [_Dependency(child) for child in sub.dependencies]

    @staticmethod
    def simple(sub: Dependant) -> bool:
        return (
            _plain(sub)
            and not sub.path_params
            and not sub.query_params
            and not sub.own_oauth_scopes
            and not sub.parent_oauth_scopes
            and sub.scope is None
            and sub.concurrency is None
            and sub.use_cache
            and all(_Dependency.simple(child) for child in sub.dependencies)
        )


async def _solve(
    dependencies: list[_Dependency], request: Request, cache: dict[Any, Any]
) -> dict[str, Any]:
    """What FastAPI's solver gives for such dependencies, in its order: each
    one's own dependencies first, then the call itself unless this request
    already made it (its cache)."""
    values: dict[str, Any] = {}
    for dependency in dependencies:
        kwargs = await _solve(dependency.children, request, cache) if dependency.children else {}
        call = dependency.call
        if call in cache:
            value = cache[call]
        else:
            if dependency.request_param is not None:
                kwargs[dependency.request_param] = request
            value = cache[call] = await call(**kwargs)
        if dependency.name is not None:
            values[dependency.name] = value
    return values


class Plan:
    """How FastAPI would call one operation's endpoint, for simple operations."""

    def __init__(self, dependant: Dependant) -> None:
        self.call = dependant.call
        self.request_name = dependant.request_param_name
        # A JSON body of one model, not embedded (checked by of()).
        self.body: Any = dependant.body_params[0] if dependant.body_params else None
        self.path = [_Param(field) for field in dependant.path_params]
        self.query = [_Param(field) for field in dependant.query_params]
        self.dependencies = [_Dependency(sub) for sub in dependant.dependencies]

    @classmethod
    def of(cls, dependant: Dependant, embed_body_fields: bool = True) -> "Plan | None":
        """The plan of an operation, or None when FastAPI's handler must serve it."""
        body = dependant.body_params
        if body and (embed_body_fields or len(body) > 1 or not _json_model(body[0])):
            return None
        if not _plain(dependant, body=True) or not _returns_response(dependant.call):
            return None
        if not all(_simple_field(f) for f in [*dependant.path_params, *dependant.query_params]):
            return None
        if not all(_Dependency.simple(sub) for sub in dependant.dependencies):
            return None
        return cls(dependant)

    def parameters(self, request: Request) -> dict[str, Any] | None:
        """The endpoint's path and query parameters, or None when FastAPI's
        handler must answer (a parameter missing or invalid)."""
        values: dict[str, Any] = {}
        if self.path:
            path_params = request.path_params
            for param in self.path:
                value, valid = param.value(path_params.get(param.key))
                if not valid:
                    return None
                values[param.name] = value
        if self.query:
            query = request.query_params if request.scope["query_string"] else {}
            for param in self.query:
                value, valid = param.value(query.get(param.key))
                if not valid:
                    return None
                values[param.name] = value
        return values

    async def _body(self, request: Request) -> Any:
        """The body model, or None when FastAPI's handler must answer: a
        content type other than exactly ``application/json`` (FastAPI's own
        handler decides on the others), an empty body, one that is not JSON
        or not valid. The body read here stays on the request for that
        handler; its value, when BodySizeLimit has parsed it, is not parsed
        again."""
        content_type = None
        for name, value in request.scope["headers"]:
            if name == b"content-type":
                content_type = value
                break
        if content_type != b"application/json":
            return None
        try:
            if not await request.body():
                return None
        except HTTPException:  # too large (a body limit): answered as FastAPI would
            raise
        except Exception:  # e.g. the client went away: FastAPI's handler answers
            return None
        data = request.scope.get(PARSED_BODY, NOT_PARSED)
        if data is NOT_PARSED:
            try:
                data = await request.json()
            except Exception:  # not JSON, not UTF-8, nested too deep: FastAPI answers
                return None
        value, errors = self.body.validate(data, {}, loc=("body",))
        return None if errors else value

    async def arguments(self, request: Request) -> dict[str, Any] | None:
        """Every argument of the endpoint, or None when FastAPI's handler must
        answer. The parameters are checked before any dependency runs: that
        has no effect, so on a fallback FastAPI's handler starts afresh."""
        values = self.parameters(request)
        if values is None:
            return None
        if self.body is not None:
            body = await self._body(request)
            if body is None:
                return None
            values[self.body.name] = body
        if self.dependencies:
            values.update(await _solve(self.dependencies, request, {}))
        if self.request_name is not None:
            values[self.request_name] = request
        return values


def _plain(dependant: Dependant, body: bool = False) -> bool:
    """No body (unless ``body``), headers, cookies, nor parameters the solver
    fills specially (other than the request); an ``async def`` that is no
    generator."""
    call = dependant.call
    if inspect.isclass(call):  # FastAPI instantiates it (in its threadpool)
        return False
    target = call if inspect.isroutine(call) else getattr(call, "__call__", None)  # noqa: B004
    return (
        not dependant.header_params
        and not dependant.cookie_params
        and (body or not dependant.body_params)
        and dependant.websocket_param_name is None
        and dependant.http_connection_param_name is None
        and dependant.response_param_name is None
        and dependant.background_tasks_param_name is None
        and dependant.security_scopes_param_name is None
        and inspect.iscoroutinefunction(target)
    )


def _json_model(field: Any) -> bool:
    """A body parameter that is one pydantic model, sent as JSON, without
    validators of its own (checked before the dependencies run, as the
    parameters are). The model's own validators must raise only validation
    errors and have no effects, as they run before the dependencies here."""
    info = field.field_info
    return (
        type(info) is params.Body
        and not info.metadata
        and not info.embed
        and info.alias in (None, field.name)
        and info.validation_alias is None
        and inspect.isclass(info.annotation)
        and issubclass(info.annotation, BaseModel)
    )


def _returns_response(call: Any) -> bool:
    returned = inspect.signature(call).return_annotation
    return inspect.isclass(returned) and issubclass(returned, Response)


def _simple_field(field: Any) -> bool:
    """A path or query parameter of one scalar value (or None), by its name,
    with a plain default and no checks but annotated-types constraints (a
    validator could raise before a dependency's 401 on the lean path)."""
    info = field.field_info
    if not isinstance(info, params.Path | params.Query):
        return False
    if info.alias not in (None, field.name) or info.validation_alias is not None:
        return False
    if info.default_factory is not None:  # FastAPI calls it on every request
        return False
    if not all(isinstance(item, CONSTRAINTS) for item in info.metadata):
        return False
    annotation = info.annotation
    if get_origin(annotation) in (Union, types.UnionType):
        kinds = [a for a in get_args(annotation) if a is not type(None)]
    else:
        kinds = [annotation]
    return len(kinds) == 1 and kinds[0] in SCALARS


# The included-route context FastAPI sets while it builds a route's handler
# (its own get_route_handler reads it the same way).
_route_context: ContextVar[Any] | None = getattr(
    fastapi_routing, "_effective_route_context_var", None
)


# FastAPI minor versions whose internals tests/test_routing.py has checked;
# on any other the routes are FastAPI's own.
TESTED_FASTAPI = ("0.165.",)
_warned: list[str] = []


def lean_routes_enabled() -> bool:
    """The ``server.lean_routes`` setting, on a FastAPI this module was tested with."""
    if not settings.server.lean_routes:
        return False
    if fastapi.__version__.startswith(TESTED_FASTAPI) and _route_context is not None:
        return True
    if not _warned:
        _warned.append(fastapi.__version__)
        log.warning(
            "FastAPI %s is not one LeanRoute was tested with (%s): FastAPI's own routes serve",
            fastapi.__version__,
            ", ".join(f"{v}x" for v in TESTED_FASTAPI),
        )
    return False


class LeanRoute(APIRoute):
    """An APIRoute that serves simple operations through a :class:`Plan`."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        if _route_context is None or not lean_routes_enabled():
            return handler
        # As included: with its include's dependencies and the app's overrides.
        context = _route_context.get()
        route: Any = context if context is not None and context.original_route is self else self
        dependant, provider = route.dependant, route.dependency_overrides_provider
        # Whether FastAPI nests the body under each parameter's name.
        embed = getattr(route, "_embed_body_fields", True)
        plan = Plan.of(dependant, bool(embed)) if dependant is not None else None
        if plan is None:
            return handler
        endpoint = plan.call
        assert endpoint is not None

        async def lean_handler(request: Request) -> Response:
            if getattr(provider, "dependency_overrides", None) or get_telemetry_data() is not None:
                return await handler(request)
            arguments = await plan.arguments(request)
            if arguments is None:
                return await handler(request)
            response = await endpoint(**arguments)
            if not isinstance(response, Response):
                raise TypeError(f"{endpoint.__name__} must return a Response")
            return response

        return lean_handler


class SectionRouter(APIRouter):
    """An APIRouter that a request for a path outside its routes passes in one check.

    FastAPI matches a request against an included router's routes one by one
    (about a microsecond each), so a Mastodon read crossed every native route
    before its own ("routing" row of docs/performance.md). :func:`include`
    records where each route's path starts (up to its first parameter); a
    path that starts with none of them matches no route here, so the router
    answers "no match" at once, as it would have after trying them all.
    """

    heads: tuple[str, ...] | None = None  # None: match route by route

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        heads = self.heads
        # Behind a root path, the path the routes see is not the scope's.
        if heads is not None and not scope.get("root_path") and not scope["path"].startswith(heads):
            return Match.NONE, {}
        return super().matches(scope)


def include(app: FastAPI, router: APIRouter, prefix: str = "", **options: Any) -> None:
    """``app.include_router``, then a :class:`SectionRouter` learns its paths'
    starts under ``prefix``; with ``server.lean_routes`` off (read here), it
    forgets them and matches route by route."""
    app.include_router(router, prefix=prefix, **options)
    if isinstance(router, SectionRouter):
        if lean_routes_enabled():
            # A router included twice answers the paths of both includes.
            paths = {prefix + getattr(route, "path", "") for route in router.routes}
            starts = {path.split("{", 1)[0] for path in paths} | set(router.heads or ())
            router.heads = tuple(sorted(starts))
        else:
            router.heads = None
