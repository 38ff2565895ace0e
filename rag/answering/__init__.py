"""Answering: sentences, tokens, extractive answers, the model's prompt and what is kept, checked replies."""
