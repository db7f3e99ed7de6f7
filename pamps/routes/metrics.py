"""Prometheus metrics on the API's own port (``metrics.port = 0``)."""

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool

from pamps import metrics
from pamps.routing import SectionRouter

# Out of /openapi.json: Prometheus' format, not the API's; docs/operations.md.
router = SectionRouter(tags=["operations"], include_in_schema=False)


@router.get(metrics.PATH)
async def scrape(request: Request) -> Response:
    """Every worker's metrics in Prometheus' text format (OpenMetrics when asked for)."""
    metrics.sample_pool(request.app.state.database)
    # In multiprocess mode a scrape reads every worker's files: off the loop.
    body, content_type = await run_in_threadpool(metrics.render, request.headers.get("accept"))
    return Response(body, media_type=content_type)
