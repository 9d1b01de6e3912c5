"""History in and out of a running daemon: ``memd export`` and ``memd import``.

- ``jsonl``: the memd format, one memory per line with every field.
- ``export``: pages a daemon's memories out through ``List``.
- ``source``, ``mem0``: what an import reads (a memd export, a Mem0 export).
- ``import_``: batches records into ``StoreStream`` with their history.
- ``checkpoint``: where an interrupted import resumes.
- ``progress``: the bar on a terminal, plain lines in logs.
- ``cli``: the two commands.

Details and examples: docs/history.md.
"""
