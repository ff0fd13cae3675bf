from pipelines.cli.app import run

run()
