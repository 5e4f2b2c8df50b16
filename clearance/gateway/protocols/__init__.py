"""The APIs the gateway speaks: OpenAI's and Anthropic's — request validation, error
shapes, usage, and streamed events."""
