"""The five steps in a real browser: headless Chromium driven by Playwright against the real server."""

import io

import pandas as pd
import pytest

TRAIN_SECONDS = "15"  # an upper bound: with two families the search ends after ~3 s


def upload(page, selector: str, name: str, data: bytes, mime: str = "text/csv") -> None:
    page.set_input_files(selector, files=[{"name": name, "mimeType": mime, "buffer": data}])


def test_walk_all_five_steps(ui_server, page, small_churn, screenshot):
    page.goto(ui_server)
    # 1. Problem: upload, choose the target, read what kind of problem it is.
    upload(page, "#upload-input", "customers.csv", small_churn.to_csv(index=False).encode())
    page.wait_for_selector("#step-1:not([hidden])")
    assert "600 rows" in page.inner_text("#table-facts")
    page.select_option("#target-select", "churn")
    page.click("#choose-target")
    page.wait_for_selector("#problem-card:not([hidden])")
    assert "yes/no" in page.inner_text("#problem-headline")
    assert "ROC AUC" in page.inner_text("#problem-metric")
    screenshot(page, "step1-problem.png")

    # 2. Data: every column with its kind, missing share and a sparkline; the ID column is flagged.
    page.click("#problem-card .next")
    page.wait_for_selector("#columns-table tbody tr")
    assert page.locator("#columns-table tbody tr").count() == small_churn.shape[1] - 1
    assert page.locator("#columns-table svg.spark rect").count() > 20
    assert "customer_id" in page.inner_text("#warnings")
    screenshot(page, "step2-data.png")

    # 3. Train with a short budget; the leaderboard fills in; a reload resumes the same step.
    page.click("#step-2 .next")
    page.check('input[name="budget"][value="custom"]')
    page.fill("#budget-custom", TRAIN_SECONDS)
    page.click("#start-training")
    page.wait_for_selector("#to-evaluate:not([hidden])", timeout=60_000)
    page.reload()
    page.wait_for_selector("#to-evaluate:not([hidden])")
    assert page.inner_text("#train-state") == "Training finished"
    assert page.locator("#leaderboard tbody tr").count() >= 3
    screenshot(page, "step3-train.png")

    # 4. Evaluate: charts render with data; a row's explanation lists its reasons.
    page.click("#to-evaluate")
    page.wait_for_selector("[data-chart] .plot .main-svg", timeout=60_000)
    traces = page.evaluate("""() => [...document.querySelectorAll('[data-chart] .plot')].map(
        (div) => (div.data || []).reduce((n, t) => n + ((t.x || t.z || t.values || t.y || []).length), 0))""")
    assert len(traces) >= 5 and all(n > 0 for n in traces), traces
    assert page.locator("#summary-list li").count() >= 2
    page.fill("#explain-row", "7")
    page.click("#explain-button")
    page.wait_for_selector("#explanation:not([hidden]) .reasons li")
    assert page.locator("#explanation .reasons li").count() == 5
    assert "likely" in page.inner_text("#explanation")
    screenshot(page, "step4-evaluate.png")

    # 5. Deploy: score a new file and download the predictions; snippets hold this model's columns.
    page.click("#step-4 .next")
    page.wait_for_selector("#snippet-code:has-text('tenure')")
    new_rows = small_churn.tail(50).drop(columns=["churn"])
    upload(page, "#score-input", "new.csv", new_rows.to_csv(index=False).encode())
    page.wait_for_selector("#score-result:not([hidden])")
    with page.expect_download() as download:
        page.click("#score-download")
    predictions = pd.read_csv(download.value.path())
    assert len(predictions) == 50
    assert list(predictions.columns) == ["prediction", "proba_No", "proba_Yes"]
    assert set(predictions["prediction"]) <= {"No", "Yes"}
    screenshot(page, "step5-deploy.png")


@pytest.mark.parametrize(("name", "expected"), [
    ("photo.csv", "could not be read"), ("empty.csv", "is empty"), ("huge.csv", "upload limit"),
])
def test_bad_uploads_show_a_message_and_the_app_keeps_working(
    ui_server, page, small_churn, upload_limit, name, expected
):
    data = {"photo.csv": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "empty.csv": b"",
            "huge.csv": b"a,b\n" + b"1,2\n" * (upload_limit // 4 + 10)}[name]
    page.goto(ui_server)
    upload(page, "#upload-input", name, data)
    page.wait_for_selector(f"#home-message:has-text('{expected}')")
    assert page.locator("#home").is_visible()
    upload(page, "#upload-input", "customers.csv", small_churn.head(50).to_csv(index=False).encode())
    page.wait_for_selector("#step-1:not([hidden])")


def test_one_class_target_is_refused_in_words(ui_server, page, small_churn):
    page.goto(ui_server)
    table = small_churn.head(100).assign(churn="No")
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    upload(page, "#upload-input", "all-stayed.parquet", buffer.getvalue(), mime="application/octet-stream")
    page.wait_for_selector("#step-1:not([hidden])")
    page.select_option("#target-select", "churn")
    page.click("#choose-target")
    page.wait_for_selector("#step1-message:has-text('single class')")
    assert page.locator("#problem-card").is_hidden()
    page.select_option("#target-select", "contract")  # another column still works
    page.click("#choose-target")
    page.wait_for_selector("#problem-card:not([hidden])")
    assert "3 categories" in page.inner_text("#problem-headline")


def test_live_training_survives_a_reload_and_stops_early(ui_server, page, small_churn, hold_after_first_model):
    """The first finished model holds the search (deterministically) while the page reloads and stops it."""
    _, release = hold_after_first_model(20)
    page.goto(ui_server)
    upload(page, "#upload-input", "customers.csv", small_churn.head(300).to_csv(index=False).encode())
    page.wait_for_selector("#step-1:not([hidden])")
    page.select_option("#target-select", "churn")
    page.click("#choose-target")
    page.click("#problem-card .next")
    page.click("#step-2 .next")
    page.click("#start-training")
    page.wait_for_selector("#leaderboard tbody tr")
    page.reload()
    page.wait_for_selector("#train-live:not([hidden]) #leaderboard tbody tr")
    assert page.inner_text("#train-state") == "Training…"
    page.click("#stop-training")
    page.wait_for_selector("#train-state:has-text('Stopping')")
    release.set()
    page.wait_for_selector("#to-evaluate:not([hidden])")
    assert "Stopped early" in page.inner_text("#train-message")
    assert "stopped" in page.inner_text("#leaderboard")
