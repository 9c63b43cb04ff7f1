"""The shapes of the change feed (API.md sections 5 and 9), for the OpenAPI document."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

PublicEvent = Literal["published", "updated", "unpublished", "retracted", "deleted", "corrected"]


class ChangeFeedEvent(BaseModel):
    seq: int = Field(description="Position in the log; only grows")
    event: PublicEvent
    article_id: str
    revision: int = Field(description="The article's revision this change made")
    at: dt.datetime


class ChangeFeedMeta(BaseModel):
    next_cursor: str = Field(
        description="Send as `since` to resume; the cursor you sent when nothing is new"
    )


class ChangeFeedPage(BaseModel):
    data: list[ChangeFeedEvent]
    meta: ChangeFeedMeta
