"""The HTTP routes, one module per resource; api/app.py's ROUTERS lists them all.

web.py is the page for support people at `/` and its static files.
"""
