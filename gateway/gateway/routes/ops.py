"""Operations: liveness, readiness (pings every service, at most once a second), Prometheus
metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from starlette.responses import JSONResponse, Response

from gateway.metrics import exposition
from gateway.openapi_responses import problem
from gateway.schemas import Problem
from gateway.state import State

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    broker: str
    services: dict[str, str]


class NotReady(Problem):
    """The 503 of /readyz: a problem document with the breakdown."""

    broker: str
    services: dict[str, str]


@router.get("/healthz", response_model=Health, operation_id="getHealth",
            summary="Liveness of the gateway process",
            description="200 while the process serves; it asks nothing of anyone.")
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, operation_id="getReadiness",
            responses=problem(503, "NotReady", "Not ready: the broker or a service is not "
                                               "answering (breakdown in the body)"),
            summary="Ready when the broker is reachable and every service answers within 1 s",
            description="Pings every service; `services` says which answered.")
async def readyz(request: Request, state: State) -> Response:
    broker = "up" if state.rpc.connected else "down"
    request_id: str = request.state.request_id
    services = await state.readiness.result()
    ready = broker == "up" and all(state == "up" for state in services.values())
    body = {"status": "ready" if ready else "not ready", "broker": broker, "services": services}
    if ready:
        return JSONResponse(body)
    # The breakdown first: problem+json's `status` is the HTTP status, not the word.
    problem = {**body, "type": "https://errors.commerce-suite.dev/not-ready",
               "title": "Not Ready", "status": 503,
               "detail": "The broker or a service is not answering.",
               "request_id": request_id}
    return JSONResponse(problem, status_code=503, media_type="application/problem+json",
                        headers={"Retry-After": "1"})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            operation_id="getMetrics", description="Prometheus text exposition format: "
            "request counts and latencies, upstream RPC latencies, errors.",
            responses={200: {"description": "Prometheus text format",
                             "content": {"text/plain": {"schema": {"type": "string"}}}}})
async def metrics() -> Response:
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)
