"""Adapters to the outside world: Chroma, embedders, the chat model, the state store."""
