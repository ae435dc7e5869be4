"""Spans leave by OTLP/HTTP when an endpoint is configured (a local receiver stands in for the
collector: it records what arrives, nothing more)."""

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from kcc_shared.settings import TelemetrySettings
from kcc_shared.telemetry import make_tracer_provider


def test_spans_are_exported_to_the_configured_otlp_endpoint():
    received: list[tuple[str, str, bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_port}"
        provider = make_tracer_provider(service_name="intake", settings=TelemetrySettings(otel_exporter_otlp_endpoint=endpoint))
        with provider.get_tracer("test").start_as_current_span("POST /v1/channels/web/submissions"):
            pass
        assert provider.force_flush(5_000)
        provider.shutdown()
    finally:
        server.shutdown()

    [(path, content_type, body)] = received
    assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
    request = ExportTraceServiceRequest.FromString(body)
    [resource_spans] = request.resource_spans
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}["service.name"]
    assert service == "intake"
    assert [s.name for s in resource_spans.scope_spans[0].spans] == ["POST /v1/channels/web/submissions"]


def test_without_an_endpoint_nothing_is_exported():
    provider = make_tracer_provider(service_name="intake", settings=TelemetrySettings(otel_exporter_otlp_endpoint=None))
    assert provider._active_span_processor._span_processors == ()  # noqa: SLF001
