pytest_plugins = ["kcc_shared.testing"]
