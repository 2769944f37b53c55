"""The operator admin REST API (aiohttp): ``/api/v1/...`` with a bearer token, plus
``/healthz``, ``/readyz``, ``/metrics`` and ``/api/v1/openapi.json``.

The caller settles the token with :func:`ensure_admin_token`, builds :class:`AdminDeps`
and serves :func:`create_app` with an ``aiohttp.web.AppRunner``.
"""

from csms.admin.app import create_app
from csms.admin.auth import ensure_admin_token
from csms.admin.deps import AdminDeps

__all__ = ["AdminDeps", "create_app", "ensure_admin_token"]
