from pipelines.cli import app

app(prog_name="clarify-sync")
