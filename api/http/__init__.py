"""What every HTTP route shares: identity, errors as problem+json, request limits, the OpenAPI document.

auth.py, deps.py and key_gate.py say who is asking (keys, the asker resolver, the dependencies, keys checked
before a body is read); errors.py answers every error; limits.py bounds what a request may cost; openapi.py
documents all of it.
"""
