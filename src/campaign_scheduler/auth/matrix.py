"""Matrix: an access token from a password login (the password is not kept) or a pasted
token; the room alias resolved to the room id, and the account joined to it.

* ``POST /_matrix/client/v3/login`` (``m.login.password``, device name "campaign-scheduler")
  gives a token for a new device; a pasted token (e.g. from Element: Settings → Help & About →
  Access token) is checked with ``/account/whoami``.
* The account's ``room`` (or the answer to the question) is an alias (``#name:server``) looked
  up in ``/directory/room`` or a room id; ``/join`` makes sure the account is a member. The room
  id goes to ``extra["room"]`` (the ``room`` setting).

Tokens from a password login do not expire unless the homeserver issues refresh tokens, which
this flow does not ask for: ``refresh`` returns ``None``.
"""

from __future__ import annotations

from urllib.parse import quote

from campaign_scheduler.auth.base import ConnectContext, request_json
from campaign_scheduler.auth.tokens import TokenRecord
from campaign_scheduler.errors import ChannelError
from campaign_scheduler.uilang import msg

CLIENT = "/_matrix/client/v3"
DEVICE_NAME = "campaign-scheduler"


class MatrixFlow:
    """``connect``: password login or pasted token, then the room; no refresh."""

    def connect(self, ctx: ConnectContext) -> TokenRecord:
        how = ctx.answer(
            "method",
            msg("Log in with the account's password (p) or paste an access token (t)? [p/t]: "),
        ).lower()
        if how.startswith("t"):
            token = ctx.answer("token", msg("Access token: "), secret=True)
            me = self._get(ctx, f"{CLIENT}/account/whoami", token)
            user_id = str(me.get("user_id") or "")
            device_id = str(me.get("device_id") or "")
        elif how.startswith("p"):
            user = ctx.answer("user", msg("Matrix user (@name:server or name): "))
            password = ctx.answer("password", msg("Password (not stored): "), secret=True)
            login = request_json(
                ctx,
                "POST",
                ctx.url(f"{CLIENT}/login"),
                network="matrix",
                json={
                    "type": "m.login.password",
                    "identifier": {"type": "m.id.user", "user": user},
                    "password": password,
                    "initial_device_display_name": DEVICE_NAME,
                },
            )
            token = str(login.get("access_token") or "")
            user_id = str(login.get("user_id") or "")
            device_id = str(login.get("device_id") or "")
            if not token:
                raise ChannelError("matrix: the homeserver issued no access token")
        else:
            raise ChannelError(f"matrix: answer p or t, not {how!r}")
        room = str(ctx.settings.get("room") or "").strip() or ctx.answer(
            "room", msg("Room (#alias:server or !id:server): ")
        )
        room_id = self._room_id(ctx, room)
        joined = request_json(
            ctx,
            "POST",
            ctx.url(f"{CLIENT}/join/{quote(room_id, safe='')}"),
            network="matrix",
            headers={"Authorization": f"Bearer {token}"},
            json={},
        )
        room_id = str(joined.get("room_id") or room_id)
        ctx.say(
            msg(
                "Connected as {user}; room {room} is {room_id}.",
                user=user_id,
                room=room,
                room_id=room_id,
            )
        )
        extra = {"room": room_id, "user_id": user_id}
        if device_id:
            extra["device_id"] = device_id
        return TokenRecord(access_token=token, extra=extra)

    @staticmethod
    def _get(ctx: ConnectContext, path: str, token: str) -> dict[str, object]:
        answer = request_json(
            ctx,
            "GET",
            ctx.url(path),
            network="matrix",
            headers={"Authorization": f"Bearer {token}"},
        )
        return answer if isinstance(answer, dict) else {}

    @staticmethod
    def _room_id(ctx: ConnectContext, room: str) -> str:
        if room.startswith("!"):
            return room
        if not room.startswith("#"):
            raise ChannelError(f"matrix: {room!r} is neither a room alias (#…) nor a room id (!…)")
        answer = request_json(
            ctx,
            "GET",
            ctx.url(f"{CLIENT}/directory/room/{quote(room, safe='')}"),
            network="matrix",
        )
        room_id = answer.get("room_id") if isinstance(answer, dict) else None
        if not isinstance(room_id, str) or not room_id:
            raise ChannelError(f"matrix: the alias {room} names no room")
        return room_id

    def refresh(self, record: TokenRecord, ctx: ConnectContext) -> TokenRecord | None:
        return None  # no refresh tokens were asked for: the token lives until logged out
