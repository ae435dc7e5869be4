"""The agent desktop: a static web app plus a small server that forwards its API calls to the services."""
