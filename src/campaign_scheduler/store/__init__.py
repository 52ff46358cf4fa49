"""The database: models, engine and session set-up, migrations and queries.

Importing the package loads nothing of SQLAlchemy's ORM: ``models.py`` brings the tables of
``attention.py`` and the audit hook of ``audit.py`` along wherever the models are used, and
``status_reads.py`` reads with Core only.
"""
