"""The workloads of ``manage.py bench`` (the command only parses its options and dispatches here).

- :mod:`memories.bench.in_process`: synthetic memories at scale, added and searched in this process
  (``bench`` / ``bench load``), printed by :mod:`memories.bench.in_process_report`;
- :mod:`memories.bench.http_load`: many HTTP clients against a running server (``bench load --url``);
- :mod:`memories.bench.locomo`: retrieval recall on the LOCOMO conversations (``bench locomo``);
- :mod:`memories.bench.modes`: the entry points of the HTTP, graph and LOCOMO modes;
- :mod:`memories.bench.common`: database checks, the machine's figures, clean-up, JSON output;
- :mod:`memories.bench.measure` and :mod:`memories.bench.data`: timers, SQL logs, synthetic texts.

Nothing is imported here, so the Django-free modules (``data``, ``http_load``) load without settings.
"""
