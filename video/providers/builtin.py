"""The built-in room (the embedded default, spec 002 "1-on-1 optimized, P2P when possible"): the two
browsers call each other from the session room page; there is nothing to create or end elsewhere,
presence lives in the room's own sockets and recordings (if any) come from the tutor's browser."""

from .base import JoinInfo, Role, Room, RoomSpec, RoomStatus, SourceRecording, VideoProvider

BUILTIN = "builtin"


class BuiltinRoom(VideoProvider):
    name = "p2p"

    def create_room(self, spec: RoomSpec) -> Room:
        return Room(room_id=spec.room_id)

    def join(self, room: Room, *, user_id: str, name: str, role: Role) -> JoinInfo:
        return JoinInfo(provider=self.name, kind=BUILTIN)

    def end_room(self, room_id: str) -> None:
        return None

    def room_status(self, room_id: str) -> RoomStatus:
        raise NotImplementedError("the built-in room's presence is its sockets' own (video.presence)")

    def recordings(self, room_id: str) -> list[SourceRecording]:
        return []

    def download(self, recording: SourceRecording):
        raise NotImplementedError("the built-in room has no provider-side recordings")
