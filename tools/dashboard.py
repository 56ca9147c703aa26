"""Build the generated project's Grafana dashboard in code (grafana-foundation-sdk) and write
it to {{cookiecutter.project}}/monitoring/grafana/dashboard.json: `make dashboard`.

The JSON is committed (copied into projects unrendered: Grafana's `{{label}}` legends are not
Jinja); tests/test_monitoring.py checks it is what this script writes. Every query reads the
server's /metrics (serving/metrics.py) or the recording rules of monitoring/prometheus/rules.yml.
"""

import json
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard, heatmap, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef, VariableRefresh

OUT = (
    Path(__file__).resolve().parent.parent
    / "{{cookiecutter.project}}/monitoring/grafana/dashboard.json"
)
SOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
JOB = 'job="$job"'
PREDICT = f'{JOB}, path=~"/predict.*"'


def query(expr, legend="", ref="A"):
    return prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref)


def series(title, unit, *queries, width=12):
    panel = timeseries.Panel().title(title).unit(unit).datasource(SOURCE).span(width).height(8)
    for ref, (expr, legend) in zip("ABCDEF", queries, strict=False):
        panel = panel.with_target(query(expr, legend, ref))
    return panel


def build():
    board = (
        dashboard.Dashboard("Model serving")
        .uid("model-serving")
        .tags(["mlops", "serving"])
        .refresh("30s")
        .time("now-6h", "now")
        .with_variable(
            dashboard.DatasourceVariable("datasource").label("Prometheus").type("prometheus")
        )  # fmt: skip
        .with_variable(
            dashboard.QueryVariable("job")
            .label("Server (scrape job)")
            .datasource(SOURCE)
            .query("label_values(model_info, job)")
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        )  # fmt: skip
        .with_row(dashboard.Row("Model"))
        .with_panel(
            stat.Panel()
            .title("Served version")
            .datasource(SOURCE)
            .span(6)
            .height(4)
            .with_target(query(f"max by (version) (model_info{{{JOB}}})", "{{version}}"))
        )  # fmt: skip
        .with_panel(
            stat.Panel()
            .title("Version the alias names")
            .datasource(SOURCE)
            .span(6)
            .height(4)
            .with_target(query(f"max by (version) (model_desired_info{{{JOB}}})", "{{version}}"))
        )  # fmt: skip
        .with_panel(
            stat.Panel()
            .title("Model load failures (1h)")
            .datasource(SOURCE)
            .span(6)
            .height(4)
            .with_target(query(f"sum(increase(model_load_errors_total{{{JOB}}}[1h]))"))
        )  # fmt: skip
        .with_panel(
            stat.Panel()
            .title("Unexpected values per record (30m)")
            .datasource(SOURCE)
            .span(6)
            .height(4)
            .with_target(
                query(
                    f"sum(rate(unexpected_values_total{{{JOB}}}[30m])) "
                    f"/ sum(rate(predictions_total{{{JOB}}}[30m]))"
                )
            )
        )  # fmt: skip
        .with_panel(
            series(
                "Class share against the training baseline",
                "percentunit",
                (
                    f"serving:prediction_share:ratio_rate30m{{{JOB}}}",
                    "{{prediction}} v{{model_version}}",
                ),
                (
                    f"model_baseline_prediction_share{{{JOB}}}",
                    "{{prediction}} v{{model_version}} baseline",
                ),
            )
        )  # fmt: skip
        .with_panel(
            series(
                "Mean score against the training baseline",
                "none",
                (f"serving:prediction_score_mean:rate30m{{{JOB}}}", "v{{model_version}}"),
                (
                    f'max by (model_version) (model_baseline_score{{{JOB}, stat="mean"}})',
                    "v{{model_version}} baseline",
                ),
            )
        )  # fmt: skip
        .with_panel(
            heatmap.Panel()
            .title("Score distribution")
            .datasource(SOURCE)
            .span(24)
            .height(8)
            .with_target(
                query(
                    f"sum by (le) (increase(prediction_score_bucket{{{JOB}}}[$__rate_interval]))",
                    "{{le}}",
                ).format("heatmap")
            )
        )  # fmt: skip
        .with_row(dashboard.Row("Traffic"))
        .with_panel(
            series(
                "Requests by status",
                "reqps",
                (
                    f"sum by (status) (rate(http_requests_total{{{PREDICT}}}[$__rate_interval]))",
                    "{{status}}",
                ),
            )
        )  # fmt: skip
        .with_panel(
            series(
                "p95 latency of /predict against gates.max_p95_ms",
                "s",
                (f"serving:predict_latency_p95_seconds:rate5m{{{JOB}}}", "p95"),
                (f"max(latency_p95_gate_seconds{{{JOB}}})", "gate"),
            )
        )  # fmt: skip
        .with_panel(
            series(
                "Rejected (422) and failed (5xx) share",
                "percentunit",
                (
                    f'sum(rate(http_requests_total{{{PREDICT}, status="422"}}[5m])) '
                    f"/ sum(rate(http_requests_total{{{PREDICT}}}[5m]))",
                    "422",
                ),
                (
                    f'sum(rate(http_requests_total{{{JOB}, status=~"5.."}}[5m])) '
                    f"/ sum(rate(http_requests_total{{{JOB}}}[5m]))",
                    "5xx",
                ),
            )
        )  # fmt: skip
        .with_panel(
            series(
                "Records per predict call",
                "none",
                (
                    f"histogram_quantile(0.5, sum by (le) (rate(predict_batch_rows_bucket{{{JOB}}}"
                    "[$__rate_interval])))",
                    "median",
                ),
            )
        )  # fmt: skip
    )
    return shadow_row(board).build()


def shadow_row(board):
    """serve.shadow_alias: the version scored beside the served one (serving/shadow.py)."""
    answers = f"shadow_answers_total{{{JOB}}}"
    return (
        board.with_row(dashboard.Row("Shadow"))
        .with_panel(
            stat.Panel()
            .title("Shadow version")
            .datasource(SOURCE)
            .span(6)
            .height(8)
            .with_target(query(f"max by (version) (shadow_model_info{{{JOB}}})", "{{version}}"))
        )  # fmt: skip
        .with_panel(
            series(
                "Shadow answers that differ from the served ones",
                "percentunit",
                (
                    f'sum(rate(shadow_answers_total{{{JOB}, agreement="different"}}[30m])) '
                    f"/ sum(rate({answers}[30m]))",
                    "different",
                ),
                width=6,
            )
        )  # fmt: skip
        .with_panel(
            series(
                "Served rows the shadow did not score (ShadowNotScoring)",
                "percentunit",
                (
                    f"sum(rate(shadow_rows_dropped_total{{{JOB}}}[5m])) "
                    f"/ sum(rate(predictions_total{{{JOB}}}[5m]))",
                    "not scored",
                ),
                width=6,
            )
        )  # fmt: skip
        .with_panel(
            series(
                "Shadow predict call against served request, p95",
                "s",
                (
                    "histogram_quantile(0.95, sum by (le) (rate("
                    f"shadow_predict_seconds_bucket{{{JOB}}}[5m])))",
                    "shadow (per call)",
                ),
                (f"serving:predict_latency_p95_seconds:rate5m{{{JOB}}}", "served (per request)"),
                width=6,
            )
        )  # fmt: skip
    )


def render():
    return json.dumps(build(), cls=JSONEncoder, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(render())
    print(
        f"Wrote {OUT.relative_to(Path.cwd()) if OUT.is_relative_to(Path.cwd()) else OUT}.",
        file=sys.stderr,
    )
