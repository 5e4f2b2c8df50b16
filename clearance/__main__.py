from clearance.cli.main import run

run()
