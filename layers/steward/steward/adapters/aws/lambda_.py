"""Lambda adapter: forwarding a request to the scoring image function (``lambda`` is a
keyword, hence the module's trailing underscore)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from steward.adapters.aws.shared import error_code
from steward.domain.forwarding import FORWARDED_MARK


class LambdaForwarder:
    """Hands an API Gateway event to another function (synchronous Invoke) and returns its
    proxy response: the zip scoring function forwards the flavors it does not ship."""

    MARK = FORWARDED_MARK

    def __init__(self, client: Any, function_name: str) -> None:
        self._lambda = client
        self._function = function_name

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        from steward.domain.errors import DependencyUnavailable, PayloadTooLarge

        payload = json.dumps({**event, self.MARK: True}).encode()
        try:
            result = self._lambda.invoke(
                FunctionName=self._function, InvocationType="RequestResponse", Payload=payload
            )
        except ClientError as exc:
            if error_code(exc) == "RequestTooLargeException":
                raise PayloadTooLarge("request too large to forward: split the batch") from None
            raise DependencyUnavailable("the scoring image function is unavailable") from None
        answer = json.loads(result["Payload"].read() or b"null")
        if (
            result.get("FunctionError")
            or not isinstance(answer, dict)
            or "statusCode" not in answer
        ):
            raise DependencyUnavailable("the scoring image function failed; retry")
        return answer
