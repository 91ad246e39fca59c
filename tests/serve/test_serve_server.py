"""The real server: uvicorn on a free loopback port, spoken to over HTTP."""

import socket
import threading
import time

import httpx
import uvicorn


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_uvicorn_serves_the_app_over_http(app, churn_run, new_rows):
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            assert http.get("/v1/health").json() == {"status": "ok"}
            body = http.post("/v1/predict", json={"rows": new_rows[:5]}).json()
            assert len(body["predictions"]) == 5 and len(body["probabilities"]) == 5
            bad = http.post("/v1/predict", json={"rows": [{"tenure": 1}]})
            assert bad.status_code == 422
            assert http.get("/v1/metrics").status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert not thread.is_alive()
