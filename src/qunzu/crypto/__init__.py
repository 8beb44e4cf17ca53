"""Cryptography used by qunzu: field encryption, blind indexes, the audit hash chain."""
