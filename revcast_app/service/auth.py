"""The one bearer-token check every POST endpoint of the service depends on."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from revcast.settings import env_name
from revcast.settings import settings as env_settings

TOKEN_ENV = env_name("api_token")

_bearer = HTTPBearer(auto_error=False, description=f"the token in env {TOKEN_ENV}")


def require_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """401 without a bearer token, 403 with a wrong one, 503 when the service has no token configured."""
    expected = env_settings().api_token
    if not expected:
        raise HTTPException(503, f"POST endpoints are disabled: set {TOKEN_ENV} on the server")
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    if not secrets.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise HTTPException(403, "invalid bearer token")
