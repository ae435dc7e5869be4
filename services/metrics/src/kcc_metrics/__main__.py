"""`python -m kcc_metrics`: run the metrics service."""

from kcc_shared.runtime import run

from kcc_metrics.app import create_app
from kcc_metrics.settings import MetricsSettings


def main() -> None:
    run(MetricsSettings(), create_app)


if __name__ == "__main__":
    main()
