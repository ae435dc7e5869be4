import json
import logging

from opentelemetry.sdk.trace import TracerProvider

from kcc_shared.logs import JsonFormatter


def record(message: str, **extra) -> logging.LogRecord:
    rec = logging.LogRecord("kcc.test", logging.INFO, __file__, 1, message, None, None)
    rec.__dict__.update(extra)
    return rec


def test_log_lines_are_json_with_the_current_trace_and_span_ids():
    formatter = JsonFormatter("routing")
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("consume") as span:
        line = json.loads(formatter.format(record("contact routed", contact_id="c-1", color_message="x")))
    context = span.get_span_context()
    assert line["trace_id"] == format(context.trace_id, "032x")
    assert line["span_id"] == format(context.span_id, "016x")
    assert (line["service"], line["level"], line["message"], line["contact_id"]) == ("routing", "INFO", "contact routed", "c-1")
    assert "color_message" not in line


def test_outside_a_span_there_is_no_trace_id():
    line = json.loads(JsonFormatter("intake").format(record("started")))
    assert "trace_id" not in line and line["message"] == "started"
