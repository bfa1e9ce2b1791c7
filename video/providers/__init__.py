"""The providers by name ("p2p", "plugnmeet", "bbb"), built from the deployment's settings."""

from django.conf import settings

from sessions.models import VideoProvider as Name

from .base import Download, JoinInfo, Role, Room, RoomSpec, RoomStatus, SourceRecording, VideoProvider
from .bbb import BigBlueButton
from .builtin import BuiltinRoom
from .plugnmeet import PlugNmeet

__all__ = ["Download", "JoinInfo", "Role", "Room", "RoomSpec", "RoomStatus", "SourceRecording", "VideoProvider",
           "get_provider"]


class NotConfigured(LookupError):
    pass


def get_provider(name: str) -> VideoProvider:
    """The provider of that name with this deployment's credentials (NotConfigured without them)."""
    if name == Name.P2P:
        return BuiltinRoom()
    if name == Name.PLUGNMEET and settings.PLUGNMEET:
        conf = settings.PLUGNMEET
        return PlugNmeet(url=conf["url"], api_key=conf["api_key"], secret=conf["secret"])
    if name == Name.BBB and settings.BBB:
        conf = settings.BBB
        return BigBlueButton(url=conf["url"], secret=conf["secret"], checksum=conf["checksum"])
    raise NotConfigured(f"the video provider {name!r} is not configured on this deployment")
