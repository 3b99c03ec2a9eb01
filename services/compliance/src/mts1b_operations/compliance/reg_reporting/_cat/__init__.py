"""CAT implementation: field tables, formats, builders, validator, files.

The public API is :mod:`..cat`.
"""
