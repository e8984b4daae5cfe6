"""Drop-in surfaces for other services' APIs, mounted with the surface recipe.

Each sub-package parses a document's shapes, calls the same services as the native API and
renders the document's shapes. Compat code imports services, never models or SQL (checked by
tests/test_import_order.py): a rule needed here is added to a service and used by both surfaces.
"""
