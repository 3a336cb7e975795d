"""SNS adapter: notifications."""

from __future__ import annotations

import json
from typing import Any

from steward.ports import (
    Notifier,
)


class SnsNotifier(Notifier):
    """:class:`~steward.ports.Notifier` on an SNS topic (subscribers: e-mail, chat, tickets)."""

    def __init__(self, client: Any, topic_arn: str) -> None:
        self._sns = client
        self._topic = topic_arn

    def publish(self, subject: str, message: dict[str, Any]) -> None:
        self._sns.publish(
            TopicArn=self._topic,
            Subject=subject[:100],
            Message=json.dumps(message, default=str),
        )
