"""Gateway: the data plane every model call goes through."""
