"""Celery glue: the worker app, its tasks, and one emotion pipeline per worker process.

celery -A workers.app worker -Q frames,light --pool=solo     # see workers/README.md
"""
