"""`python -m kcc_callback`: run the callback service."""

from kcc_shared.runtime import run

from kcc_callback.app import create_app
from kcc_callback.settings import CallbackSettings


def main() -> None:
    run(CallbackSettings(), create_app)


if __name__ == "__main__":
    main()
