"""Every app serves the routes its routers built at import, and builds no others."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from app.api import V1_ROUTERS
from app.core.config import Settings
from app.core.routing import add_routes
from app.main import create_app


def test_an_app_serves_the_routers_own_routes():
    # include_router would rebuild each route per app on its first request (~80 ms for
    # ours, in every worker and every test): the app's routes must be the routers' own.
    app = create_app(Settings(database_url="sqlite:///unused.db"))
    served = {id(route) for route in app.router.routes}
    for router in V1_ROUTERS:
        assert router.routes
        assert all(id(route) in served for route in router.routes), router.prefix
    assert {"/v1/articles", "/healthz", "/metrics", "/dashboard"} <= {
        route.path for route in app.router.routes if isinstance(route, APIRoute)
    }


def test_a_router_with_start_up_handlers_is_refused():
    router = APIRouter()
    router.add_event_handler("startup", lambda: None)
    with pytest.raises(AssertionError, match="start-up"):
        add_routes(FastAPI(), router)
