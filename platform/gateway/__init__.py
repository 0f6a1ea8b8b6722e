"""The model gateway: an OpenAI-compatible API over open models, for sandboxes and people."""
