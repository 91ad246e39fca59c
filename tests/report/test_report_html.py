"""The self-contained HTML report: parses, holds every chart with data, links nothing outside itself,
and `mlpilot report` writes it."""

import json
from html.parser import HTMLParser

import pytest
from typer.testing import CliRunner

from mlpilot.cli.main import app
from mlpilot.errors import ConfigError
from mlpilot.report.html import write_report

runner = CliRunner()


class _Page(HTMLParser):
    """Collects chart divs, JSON script blocks, external references and table rows."""

    def __init__(self):
        super().__init__()
        self.charts, self.json_blocks, self.external, self.tags = [], {}, [], []
        self._json_id = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        for name in ("src", "href", "action", "data"):
            if "://" in (attrs.get(name) or "") or (attrs.get(name) or "").startswith("//"):
                self.external.append((tag, attrs[name]))
        if tag == "script" and attrs.get("src"):
            self.external.append((tag, attrs["src"]))
        if tag == "link":
            self.external.append((tag, attrs.get("href")))
        if tag == "div" and "plotly-chart" in (attrs.get("class") or ""):
            self.charts.append(attrs)
        if tag == "script" and attrs.get("type") == "application/json":
            self._json_id = attrs["id"]

    def handle_data(self, data):
        if self._json_id:
            self.json_blocks[self._json_id] = json.loads(data)
            self._json_id = None


def _parse(html):
    page = _Page()
    page.feed(html)
    page.close()
    return page


@pytest.fixture(scope="module")
def report_with_data(churn_run, churn_split, tmp_path_factory):
    _, test = churn_split
    data = tmp_path_factory.mktemp("report") / "test.csv"
    test.to_csv(data, index=False)
    out = write_report(churn_run.path, data.parent / "churn.html", data=data)
    return out.read_text(encoding="utf-8")


def test_report_holds_every_chart_with_data_and_nothing_external(report_with_data):
    page = _parse(report_with_data)
    # 6 validation charts (importance included) + 5 on the labelled file
    assert len(page.charts) == 11
    assert len({c["id"] for c in page.charts}) == 11
    for chart in page.charts:
        figure = page.json_blocks[chart["data-figure"]]
        assert figure["data"] and any(trace.get("x") or trace.get("z") for trace in figure["data"]), chart["id"]
    assert page.external == []
    assert "Plotly.newPlot" in report_with_data and len(report_with_data) > 1_000_000  # the bundle is inline


def test_report_has_summary_data_overview_leaderboard_and_explained_rows(report_with_data):
    html = report_with_data
    for section in ('id="summary"', 'id="data-overview"', 'id="leaderboard"', 'id="explained-rows"'):
        assert section in html
    assert "ranks a randomly chosen" in html and "WeightedEnsemble" in html and "tenure" in html
    explained = html.split('id="explained-rows"')[1].split("</section>")[0]
    assert explained.count("<tr>") == 11  # header + the 10 riskiest rows
    assert explained.count('class="raises"') + explained.count('class="lowers"') == 30  # 3 reasons each


def test_user_text_is_escaped():
    from mlpilot.report.html import _ENV

    html = _ENV.from_string("{{ name }}").render(name="<script>alert(1)</script>")
    assert "<script>" not in html


def test_old_run_report_says_validation_is_unavailable(old_churn_run, tmp_path):
    out = write_report(old_churn_run, tmp_path / "old.html")
    html = out.read_text(encoding="utf-8")
    assert "Validation charts are unavailable" in html and "older mlpilot" in html
    assert _parse(html).charts == []


def test_report_is_never_written_inside_the_run(churn_run):
    with pytest.raises(ConfigError, match="inside the run directory"):
        write_report(churn_run.path, churn_run.path / "report.html")


def test_cli_report_end_to_end(churn_run, tmp_path):
    copy = churn_run.save(tmp_path / "run")
    result = runner.invoke(app, ["report", str(copy)])
    assert result.exit_code == 0, result.output
    default = tmp_path / "run-report.html"
    assert default.is_file() and "Wrote the report to" in result.output
    assert len(_parse(default.read_text(encoding="utf-8")).charts) == 6
    bad = runner.invoke(app, ["report", str(tmp_path / "missing")])
    assert bad.exit_code == 1 and "manifest.json is missing" in bad.output
