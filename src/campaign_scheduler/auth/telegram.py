"""Telegram: a bot token from @BotFather, verified with ``getMe``; the channel's chat id found
with ``getUpdates`` after the bot was made an administrator of the channel.

Steps: the person pastes the token; ``getMe`` names the bot; the person adds the bot to the
channel as administrator (with "post messages") and writes a message there; ``getUpdates`` then
lists the channels the bot saw (``my_chat_member`` and ``channel_post`` updates). One channel is
taken as it is; several are offered by number. The chat id goes to ``extra["chat"]`` (the
account's ``chat`` setting). Bot tokens do not expire: ``refresh`` returns ``None``.

``getUpdates`` fails with 409 while the bot has a webhook; the message says so.
"""

from __future__ import annotations

from typing import Any

from campaign_scheduler.auth.base import ConnectContext, request_json
from campaign_scheduler.auth.tokens import TokenRecord
from campaign_scheduler.errors import AuthError, ChannelError
from campaign_scheduler.uilang import msg


def _channels(updates: list[Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for update in updates:
        if not isinstance(update, dict):
            continue
        for kind in ("my_chat_member", "channel_post", "edited_channel_post"):
            chat = (update.get(kind) or {}).get("chat")
            if isinstance(chat, dict) and chat.get("type") == "channel" and "id" in chat:
                found[str(chat["id"])] = chat
    return found


class TelegramFlow:
    """``connect``: bot token + the channel from the bot's updates; no refresh."""

    def connect(self, ctx: ConnectContext) -> TokenRecord:
        token = ctx.answer("token", msg("Bot token from @BotFather (123456:ABC…): "), secret=True)
        api = ctx.url(f"/bot{token}")
        me = self._call(ctx, f"{api}/getMe")
        bot = str(me.get("username") or me.get("id"))
        ctx.say(
            msg(
                "Bot @{bot} found. Add it to the channel as administrator with 'Post messages', "
                "then write any message in the channel.",
                bot=bot,
            )
        )
        if "ready" not in ctx.options:
            ctx.ask(msg("Press Enter when done: "))
        updates = self._call(ctx, f"{api}/getUpdates", params={"timeout": 0})
        channels = _channels(updates if isinstance(updates, list) else [])
        wanted = str(ctx.settings.get("chat") or "").strip()
        if wanted:
            channels = {
                key: chat
                for key, chat in channels.items()
                if wanted in (key, f"@{chat.get('username')}")
            } or channels
        if not channels:
            raise ChannelError(
                f"telegram: the bot @{bot} has not seen a channel yet",
                hint="make the bot an administrator of the channel, write a message there, "
                "and run `campaign accounts connect` again",
            )
        chosen = self._choose(ctx, channels)
        ctx.say(msg("Channel: {title} ({id}).", title=chosen.get("title"), id=chosen["id"]))
        return TokenRecord(access_token=token, extra={"chat": str(chosen["id"])})

    @staticmethod
    def _choose(ctx: ConnectContext, channels: dict[str, dict[str, Any]]) -> dict[str, Any]:
        items = sorted(channels.values(), key=lambda c: str(c.get("title")))
        if len(items) == 1:
            return items[0]
        for number, chat in enumerate(items, 1):
            ctx.say(f"  {number}. {chat.get('title')} ({chat['id']})")
        answer = ctx.answer("choice", msg("Which channel (1-{count})? ", count=len(items)))
        if not answer.isdigit() or not 1 <= int(answer) <= len(items):
            raise ChannelError(f"telegram: {answer!r} is not one of 1-{len(items)}")
        return items[int(answer) - 1]

    @staticmethod
    def _call(ctx: ConnectContext, url: str, **kwargs: Any) -> Any:
        try:
            answer = request_json(ctx, "GET", url, network="telegram", **kwargs)
        except AuthError as exc:
            raise AuthError(
                "telegram: the bot token was refused", network_message=exc.network_message
            ) from None
        except ChannelError as exc:
            if "webhook" in (exc.network_message or ""):
                raise ChannelError(
                    "telegram: the bot has a webhook, so its updates cannot be read",
                    hint="remove the webhook (deleteWebhook) or set the account's chat by hand",
                ) from None
            raise
        if not isinstance(answer, dict) or not answer.get("ok"):
            raise ChannelError("telegram: unexpected answer from the Bot API")
        return answer.get("result")

    def refresh(self, record: TokenRecord, ctx: ConnectContext) -> TokenRecord | None:
        return None  # bot tokens do not expire
