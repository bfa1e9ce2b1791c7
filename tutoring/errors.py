"""The one domain error: a refused action, with a message shown as is on web, API and Telegram."""

FORBIDDEN = 403  # the user sees the session but may not take this action
CONFLICT = 409  # the session's state or a time window refuses the action now
INVALID = 422  # the input itself is wrong (missing reason, end before start, ...)


class Refused(Exception):
    def __init__(self, message: str, *, code: str, status: int = CONFLICT, errors: list | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.errors = errors or []
        self.extra: dict = {}  # more for the API's body (an action's 409 adds the session as it is now)

    def as_dict(self) -> dict:
        body = {"detail": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body | self.extra
