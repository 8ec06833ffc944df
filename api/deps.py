"""Dependency aliases the routes share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.runtime import Runtime
from api.security import Caller, current_caller, require


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
CallerDep = Annotated[Caller, Depends(current_caller)]
OfficerDep = Annotated[Caller, Depends(require("officer"))]
OperatorDep = Annotated[Caller, Depends(require("operator"))]
OfficeOrLaneDep = Annotated[Caller, Depends(require("officer", "operator"))]
