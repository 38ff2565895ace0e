"""The HTTP routes, one module per resource; api/app.py includes them all."""
