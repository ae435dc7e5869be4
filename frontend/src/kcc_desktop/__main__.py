"""`python -m kcc_desktop`: serve the agent desktop (default http://127.0.0.1:8000/)."""

import uvicorn

from kcc_desktop.app import create_app
from kcc_desktop.settings import DesktopSettings


def main() -> None:
    settings = DesktopSettings()
    # Requests still open at a stop get 10 s, then close (uvicorn's default waits for ever).
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_config=None, access_log=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
