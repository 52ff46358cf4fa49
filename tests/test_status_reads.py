"""The Core-only reads of ``campaign status`` name the record's columns as the models do."""

from __future__ import annotations

from campaign_scheduler.store.coretypes import UTCDateTime
from campaign_scheduler.store.models import Base
from campaign_scheduler.store.status_reads import TABLES


def test_every_column_status_reads_exists_in_the_models_with_the_same_time_type() -> None:
    for clause in TABLES:
        model = Base.metadata.tables[clause.name]
        for column in clause.c:
            assert column.name in model.c, f"{clause.name}.{column.name}"
            is_time = isinstance(model.c[column.name].type, UTCDateTime)
            assert isinstance(column.type, UTCDateTime) == is_time, f"{clause.name}.{column.name}"
