"""The HTTP edge of the gateway: FastAPI app, routers, the error mapping and metrics."""
