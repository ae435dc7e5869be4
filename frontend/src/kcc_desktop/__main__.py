"""`python -m kcc_desktop`: serve the agent desktop (default http://127.0.0.1:8000/)."""

import uvicorn

from kcc_desktop.app import create_app
from kcc_desktop.settings import DesktopSettings


def main() -> None:
    settings = DesktopSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
