"""Demo and test doubles. Nothing here is used unless asked for by name."""
