"""The ``clearance`` command line (typer)."""
