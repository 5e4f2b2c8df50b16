"""The admin API (FastAPI): what an operator does, over HTTP."""
