"""Verity core, in layers: each imports only from those below it (pyproject.toml, importlinter).

From the bottom: domain, config, ports, retrieval and answering, services, adapters, bootstrap (the one
composition root). Nothing below the adapters imports a web framework, a store or a model client.
"""
