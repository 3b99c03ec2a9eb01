"""FINRA OATS (legacy) order event records and FORE files.

Private; the public face is :mod:`mts1b_operations.compliance.reg_reporting.oats`.
"""
