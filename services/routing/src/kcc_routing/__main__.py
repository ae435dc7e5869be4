"""`python -m kcc_routing`: run the routing service."""

from kcc_shared.runtime import run

from kcc_routing.app import create_app
from kcc_routing.settings import RoutingSettings


def main() -> None:
    run(RoutingSettings(), create_app)


if __name__ == "__main__":
    main()
