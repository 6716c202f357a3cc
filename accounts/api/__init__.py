"""Mem0 Platform administration paths, one module a topic: projects, members, webhooks, entities
created before they have memories, and user profiles. Thin views over ``accounts.services`` and
``accounts.selectors``; every 2xx answer has a JSON body, and another organisation's (or, for a
non-admin key, another project's) ids answer exactly like missing ones: 404.
"""
