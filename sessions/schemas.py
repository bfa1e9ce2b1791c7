"""Pieces of the JSON API shared by the session and creator endpoints."""

from ninja import Schema

from tutoring.models import User


class PersonOut(Schema):
    id: int
    name: str
    avatar_url: str


class CourseOut(Schema):
    id: int
    title: str


class ErrorOut(Schema):
    detail: str
    code: str


# every error status a session endpoint may answer with, all in the {"detail", "code"} shape
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def person(user: User) -> dict:
    return {"id": user.id, "name": user.name, "avatar_url": user.avatar_url}
