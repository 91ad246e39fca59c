"""The web app for the UI tests: a real uvicorn server on a free loopback port, and headless Chromium.

Playwright drives Debian's ``chromium`` package (its own browser download cannot work offline), so
the browser tests are skipped, with the reason, where either is missing; CI installs both.
"""

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from mlpilot.ui.app import create_ui_app
from mlpilot.ui.training import TrainSettings

CHROMIUM = os.environ.get("MLPILOT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
UPLOAD_LIMIT = 2**20  # 1 MiB: the 600-row test table is ~80 kB; the oversized one is over it
FAST_TRAINING = TrainSettings(families=("lightgbm", "linear"), n_folds=3)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def small_churn(churn_table):
    """600 rows of the real churn table (with its row-number column, as a user's export would have)."""
    return churn_table.head(600).reset_index(names="customer_id")


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory):
    """The app over a fresh workspace, served by uvicorn in a thread; yields its base URL."""
    app = create_ui_app(tmp_path_factory.mktemp("workspace"), max_upload_bytes=UPLOAD_LIMIT, train=FAST_TRAINING)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the UI server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=20)


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.fixture
def screenshot():
    """Saves a page under docs/screenshots only when MLPILOT_SCREENSHOTS=1, so CI never changes the tree."""

    def save(page, name: str) -> None:
        if os.environ.get("MLPILOT_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / name), full_page=True)

    return save


@pytest.fixture
def upload_limit():
    return UPLOAD_LIMIT


@pytest.fixture
def hold_after_first_model(monkeypatch):
    """Makes ``api.fit`` hold after its first finished model until ``release`` is set (or ``seconds`` pass).

    Returns ``(first_model_done, release)``: a test waits for the first, acts (reload, stop), then
    sets the second, so what it checks does not depend on how fast the models train.
    """
    from mlpilot import api

    def install(seconds: float) -> tuple[threading.Event, threading.Event]:
        real_fit, first_model_done, release = api.fit, threading.Event(), threading.Event()

        def fit_that_pauses_after_the_first_model(*args, progress, **kwargs):
            def paused(event):
                progress(event)
                if event.kind == "model_done" and not first_model_done.is_set():
                    first_model_done.set()
                    release.wait(seconds)

            return real_fit(*args, progress=paused, **kwargs)

        monkeypatch.setattr(api, "fit", fit_that_pauses_after_the_first_model)
        return first_model_done, release

    return install
