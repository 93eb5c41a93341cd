from certctl.cli.main import run

run()
