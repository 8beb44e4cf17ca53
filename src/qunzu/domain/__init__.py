"""The rules of qunzu, in pure Python: no I/O, no framework, no project imports outside domain/."""
