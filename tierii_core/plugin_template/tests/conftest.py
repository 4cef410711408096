# TierII's testing kit: its fixtures (tierii_environment, smtp_sink...) for every test here.
pytest_plugins = ["tierii_core.testing"]
