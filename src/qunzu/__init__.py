"""qunzu: a group-chat (群组) service with governance built in.

``P1`` to ``P8`` and ``Art. N`` in docstrings and comments are the principles and the
articles of the 2017 Provisions in docs/principles.md; the layers are in docs/architecture.md.
"""

__version__ = "0.1.0"
