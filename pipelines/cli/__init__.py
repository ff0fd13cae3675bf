"""The `clarify-sync` command line: `app.py` (root command, `run`), `options.py` (options declared once,
error handling), `console.py` (progress and tables), `reports.py` (summaries), `timeseries.py` (`timeseries ...`)."""
