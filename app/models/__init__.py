"""The ORM: the one import point for every table (Alembic reads Base.metadata from here)."""

from app.core.db import Base
from app.models.access import ApiKey, IdempotencyRecord
from app.models.article import (
    Article,
    ArticleAuthor,
    ArticleStatus,
    ArticleTag,
    Author,
    Category,
    Correction,
    FormerSlug,
    Revision,
    Section,
    Tag,
    Takeaway,
)
from app.models.events import Change, ChangeEvent
from app.models.stats import (
    ArticleViewsDaily,
    ArticleViewsRecent,
    StatsDaily,
    StatsState,
    StatsTermCount,
)
from app.models.usage import UsageDaily
from app.models.webhooks import (
    DeliveryState,
    SubscriptionStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)

__all__ = [
    "ApiKey",
    "IdempotencyRecord",
    "Article",
    "ArticleAuthor",
    "ArticleStatus",
    "ArticleTag",
    "Author",
    "Base",
    "Category",
    "Change",
    "ChangeEvent",
    "Correction",
    "FormerSlug",
    "Revision",
    "Section",
    "Tag",
    "Takeaway",
    "UsageDaily",
    "ArticleViewsDaily",
    "ArticleViewsRecent",
    "StatsState",
    "StatsDaily",
    "StatsTermCount",
    "DeliveryState",
    "SubscriptionStatus",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
]
