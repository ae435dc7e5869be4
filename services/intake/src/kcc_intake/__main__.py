"""`python -m kcc_intake`: run the intake service."""

from kcc_shared.runtime import run

from kcc_intake.app import create_app
from kcc_intake.settings import IntakeSettings


def main() -> None:
    run(IntakeSettings(), create_app)


if __name__ == "__main__":
    main()
