pytest_plugins = ["kcc_shared.testing", "kcc_shared.pytest_hangs", "pytester"]
