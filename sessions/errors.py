"""The domain error lives in the project package (tutoring/errors.py) so that the API's error
handlers (tutoring/api.py) need no app; the apps keep importing it from here."""

from tutoring.errors import CONFLICT, FORBIDDEN, INVALID, Refused

__all__ = ["CONFLICT", "FORBIDDEN", "INVALID", "Refused"]
