"""MiFID II (MiFIR Article 26, RTS 22) transaction reports: fields, records and ISO 20022 XML.

Private; the public face is :mod:`mts1b_operations.compliance.reg_reporting.mifid2`.
"""
