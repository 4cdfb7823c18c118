"""Live-chat sockets (protocol: docs/chat-protocol.md). Thin: parse a frame, call
tickets.chat.services in a database thread, answer. Facts are saved before anything is sent
(the services broadcast after commit); a bad frame gets an ``error`` frame and the socket stays
open; flooding gets an error, then a close with 4429; a database that cannot serve now (locked,
unreachable) gets an ``unavailable`` error naming the frame's ``client_id``, and the socket
stays open so the client sends it again later. The customer socket is capped per client
address (tickets.limits): too many open sockets get an error and a 4429 close."""

import json
import logging
import time
from collections import deque

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.utils.translation import gettext as _

from core.client import scope_client_key
from core.database import RETRY_AFTER_SECONDS, database_unavailable
from core.socket_db import database_sync_to_async
from kb.feedback import VISITOR_COOKIE, VISITOR_COOKIE_SALT
from tickets import limits
from tickets.chat import broadcast, selectors
from tickets.chat import services as chat
from tickets.models import ChatPhase, Ticket
from tickets.selectors import MAX_PK
from tickets.services.agents import agent_status_set

logger = logging.getLogger(__name__)

MAX_FRAME_BYTES = 8_192
# Per socket: at most this many frames in the window; beyond, an error; far beyond, a close.
RATE_FRAMES, RATE_WINDOW, FLOOD_FRAMES = 20, 10.0, 40
CLOSE_FLOOD, CLOSE_FORBIDDEN = 4429, 4403
CLOSE_TRY_AGAIN = 1013  # RFC 6455 "Try Again Later"


class _Flood(Exception):
    pass


class _Frames(AsyncJsonWebsocketConsumer):
    """JSON parsing, size limit, rate limit and error frames shared by both sockets."""

    async def dispatch(self, message):
        # Channels closes stale database connections before every event, a hop to the database
        # thread for each frame and each group message. Our database calls do it themselves
        # (core.socket_db), and forwarding a group message needs no database.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        try:
            await handler(message)
        except DatabaseError as exc:
            # Frames answer this themselves (receive); a group event whose database read failed
            # is only a doorbell: say so, and the client refreshes later.
            if not database_unavailable(exc) or message["type"].startswith("websocket."):
                raise
            await self.unavailable({}, exc)

    async def connect(self):
        self.recent = deque()
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if text_data is None:
            return await self.error("invalid_frame", "Send JSON text frames.")
        if len(text_data.encode()) > MAX_FRAME_BYTES:
            return await self.error("too_large", f"Frames are limited to {MAX_FRAME_BYTES} bytes.")
        try:
            content = json.loads(text_data)
        except ValueError:
            return await self.error("invalid_json", "That frame is not JSON.")
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            return await self.error("invalid_frame", "A frame is a JSON object with a type.")
        try:
            await self.check_rate()
        except _Flood:
            return
        handler = self.handlers.get(content["type"])
        if handler is None:
            return await self.error("unknown_type", f"Unknown frame type {content['type'][:40]!r}.")
        try:
            if await self.allowed():
                await getattr(self, handler)(content)
        except ValidationError as exc:
            await self.error(getattr(exc, "code", None) or "invalid", exc.messages[0])
        except DatabaseError as exc:
            if not database_unavailable(exc):
                raise
            await self.unavailable(content, exc)

    async def allowed(self) -> bool:
        """Whether this socket may still send frames (False: it was closed)."""
        return True

    async def check_rate(self) -> None:
        now = time.monotonic()
        self.recent.append(now)
        while self.recent and now - self.recent[0] > RATE_WINDOW:
            self.recent.popleft()
        if len(self.recent) > FLOOD_FRAMES:
            await self.error("flood", "Too many frames: closing.")
            await self.close(code=CLOSE_FLOOD)
            raise _Flood
        if len(self.recent) > RATE_FRAMES:
            await self.error("rate_limited", "Slow down: too many frames.")
            raise _Flood

    async def error(self, code: str, message: str) -> None:
        await self.send_json({"type": "error", "code": code, "message": message})

    async def unavailable(self, content: dict, exc: Exception) -> None:
        """The database cannot serve now (nothing of this frame was saved unless it was
        acknowledged): the client keeps the frame's message and sends it again later."""
        logger.warning("Chat socket: database unavailable: %s", exc)
        frame = {
            "type": "error",
            "code": "unavailable",
            "message": _("The service is busy. Please try again in a moment."),
            "retry_after": RETRY_AFTER_SECONDS,
        }
        client_id = content.get("client_id")
        if isinstance(client_id, str) and 1 <= len(client_id) <= 64:
            frame["client_id"] = client_id
        await self.send_json(frame)

    async def chat_frame(self, event):
        await self.send_json(event["frame"])


def _text(content: dict, key: str = "text") -> str:
    value = content.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"'{key}' must be a non-empty string.")
    if len(value) > chat.MAX_TEXT:
        raise ValidationError(f"'{key}' is longer than {chat.MAX_TEXT} characters.")
    return value


def _client_id(content: dict) -> str:
    value = content.get("client_id")
    if value is None:
        return ""
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        raise ValidationError("'client_id' must be a string of at most 64 characters.")
    return value


def _is_id(value, *, minimum: int = 1) -> bool:
    # Ids beyond a 64-bit column would overflow the database driver (SQLite raises
    # OverflowError, PostgreSQL a DataError) and make group names longer than Channels allows.
    return not isinstance(value, bool) and isinstance(value, int) and minimum <= value <= MAX_PK


def _optional_id(content: dict, key: str) -> int | None:
    value = content.get(key)
    if value is None:
        return None
    if not _is_id(value, minimum=0):
        raise ValidationError(f"'{key}' must be a message id or null.")
    return value


class ChatConsumer(_Frames):
    """The customer's socket, /ws/chat/."""

    handlers = {
        "hello": "on_hello", "message": "on_message", "choose": "on_choose",
        "handoff": "on_handoff", "typing": "on_typing", "end": "on_end",
    }  # fmt: skip

    socket_slot = None  # the address's socket slot this socket holds (tickets.limits)

    async def __call__(self, scope, receive, send):
        # The slot is given back however the socket ends: a close, a disconnect, an error.
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self.socket_slot is not None:
                limits.chat_socket_closed(self.socket_slot)
                self.socket_slot = None

    async def connect(self):
        self.ticket_id = None
        self.said_hello = False
        self.language = "en"
        # Who starts conversations and records content gaps: the user, else the address.
        self.client_key = scope_client_key(self.scope)
        self.socket_slot = limits.chat_socket_open(self.scope)
        await super().connect()
        if self.socket_slot is None:
            await self.error(
                "too_many_sockets",
                _("Too many chats are open from your network. Close one and try again later."),
            )
            await self.close(code=CLOSE_FLOOD)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if self.socket_slot is None:  # refused at connect and closing: ignore what still comes
            return
        await super().receive(text_data=text_data, bytes_data=bytes_data, **kwargs)

    async def disconnect(self, code):
        if self.ticket_id:
            await self.channel_layer.group_discard(
                broadcast.customer_group(self.ticket_id), self.channel_name
            )

    def _visitor_key(self) -> str | None:
        raw = self.scope.get("cookies", {}).get(VISITOR_COOKIE, "")
        try:
            return signing.loads(raw, salt=VISITOR_COOKIE_SALT) if raw else None
        except signing.BadSignature:
            return None

    @database_sync_to_async
    def _hello(self, token, after):
        ticket = selectors.conversation_for_token(token) if token else None
        if token and ticket is None:
            raise ValidationError("Unknown conversation.")
        frames = selectors.replay(ticket, after=after) if ticket else []
        queue = selectors.queue_frame(ticket) if ticket else None
        # No customer row yet for a fresh visitor: it is made with the first message, so
        # opening the widget and leaving adds nothing to the database.
        return ticket, frames, queue, ticket.language if ticket else None

    async def _join(self, ticket: Ticket) -> None:
        if self.ticket_id and self.ticket_id != ticket.pk:
            await self.channel_layer.group_discard(
                broadcast.customer_group(self.ticket_id), self.channel_name
            )
        self.ticket_id = ticket.pk
        await self.channel_layer.group_add(broadcast.customer_group(ticket.pk), self.channel_name)

    async def _welcome(self, ticket: Ticket | None, language: str) -> None:
        from tickets.chat.bot import greeting

        await self.send_json(
            {
                "type": "welcome",
                "conversation": ticket.access_key if ticket else None,
                "status": (ticket.chat_phase or "bot") if ticket else "new",
                "greeting": greeting(language),
            }
        )

    async def on_hello(self, content):
        token = content.get("conversation")
        if token is not None and not isinstance(token, str):
            raise ValidationError("'conversation' must be a token or null.")
        after = _optional_id(content, "after")
        ticket, frames, queue, language = await self._hello(token, after)
        self.said_hello = True
        if ticket:
            await self._join(ticket)
        requested = content.get("language")
        self.language = requested if requested in dict(settings.LANGUAGES) else "en"
        await self._welcome(ticket, language or self.language)
        for frame in frames:
            await self.send_json(frame)
        if queue:
            await self.send_json(queue)

    def _require_hello(self):
        if not self.said_hello:
            raise ValidationError("Say hello first.")

    @database_sync_to_async
    def _post(self, text, client_id):
        if self.ticket_id:
            # Only the phase is needed here: message_post reads (and locks) the whole row.
            ticket = Ticket.objects.only("id", "chat_phase", "customer_id", "merged_into_id").get(
                pk=self.ticket_id
            )
            return chat.customer_message(
                ticket=ticket, customer=None, text=text, client_id=client_id,
                client_key=self.client_key,
            )  # fmt: skip
        customer = chat.chat_customer(
            user=self.scope.get("user"), visitor_key=self._visitor_key(), language=self.language
        )
        return chat.customer_message(
            ticket=None, customer=customer, text=text, client_id=client_id,
            client_key=self.client_key,
        )  # fmt: skip

    @database_sync_to_async
    def _bot(self, ticket, text):
        return chat.bot_turn(ticket=ticket, text=text, client_key=self.client_key)

    async def on_message(self, content):
        self._require_hello()
        text, client_id = _text(content), _client_id(content)
        posted = await self._post(text, client_id)
        if posted.ticket.pk != self.ticket_id:
            # A new conversation: its first message was broadcast before this socket could
            # join the group, so it comes from the database.
            await self._join(posted.ticket)
            await self._welcome(posted.ticket, posted.ticket.language)
            for frame in await database_sync_to_async(selectors.replay)(posted.ticket, after=None):
                await self.send_json(frame)
        await self.send_json({"type": "ack", "client_id": client_id, "id": posted.message.pk})
        if posted.created and posted.ticket.chat_phase == ChatPhase.BOT:
            await self._bot(posted.ticket, text)

    @database_sync_to_async
    def _ticket(self):
        return Ticket.objects.select_related("customer__tier").get(pk=self.ticket_id)

    def _require_conversation(self):
        self._require_hello()
        if not self.ticket_id:
            raise ValidationError("There is no conversation yet: send a message first.")

    async def on_choose(self, content):
        self._require_conversation()
        slug = content.get("slug")
        if not isinstance(slug, str) or not slug:
            raise ValidationError("'slug' must be an article slug.")
        ticket = await self._ticket()
        await database_sync_to_async(chat.choose_article)(ticket=ticket, slug=slug[:200])

    async def on_handoff(self, content):
        self._require_conversation()
        ticket = await self._ticket()
        await database_sync_to_async(chat.handoff)(ticket=ticket, reason="asked")

    async def on_typing(self, content):
        if self.ticket_id:
            await self.channel_layer.group_send(
                broadcast.staff_group(self.ticket_id),
                {
                    "type": "chat.frame",
                    "frame": {
                        "type": "typing",
                        "author": "customer",
                        "conversation": self.ticket_id,
                    },
                },
            )

    async def on_end(self, content):
        self._require_conversation()
        ticket = await self._ticket()
        await database_sync_to_async(chat.end)(ticket=ticket)


class AgentConsumer(_Frames):
    """The agent console's socket, /ws/agent/: active staff who may work tickets only."""

    handlers = {
        "hello": "on_hello", "open": "on_open", "accept": "on_accept", "message": "on_message",
        "typing": "on_typing", "transfer": "on_transfer", "end": "on_end", "status": "on_status",
    }  # fmt: skip

    async def connect(self):
        self.user = self.scope.get("user")
        self.watching = set()
        try:
            may_chat = await database_sync_to_async(chat.can_chat)(self.user)
        except DatabaseError as exc:
            if not database_unavailable(exc):
                raise
            await super().connect()
            await self.unavailable({}, exc)
            await self.close(code=CLOSE_TRY_AGAIN)
            return
        if not may_chat:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await super().connect()
        await self.channel_layer.group_add(broadcast.AGENTS_GROUP, self.channel_name)
        await self.channel_layer.group_add(broadcast.agent_group(self.user.pk), self.channel_name)

    async def disconnect(self, code):
        await self.channel_layer.group_discard(broadcast.AGENTS_GROUP, self.channel_name)
        if getattr(self, "user", None) is not None and self.user.is_authenticated:
            await self.channel_layer.group_discard(
                broadcast.agent_group(self.user.pk), self.channel_name
            )
        for ticket_id in getattr(self, "watching", ()):
            await self.channel_layer.group_discard(
                broadcast.staff_group(ticket_id), self.channel_name
            )

    async def allowed(self) -> bool:
        # Deactivated staff lose the console on their next frame (and at once, via agent.disconnect).
        if not await database_sync_to_async(self._still_allowed)():
            await self.close(code=CLOSE_FORBIDDEN)
            return False
        return True

    def _still_allowed(self) -> bool:
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.filter(pk=self.user.pk).first()
        return user is not None and chat.can_chat(user)

    async def chat_frame(self, event):
        # Agents watch several chats: every frame says which one it belongs to.
        frame = event["frame"]
        if "conversation" not in frame and event.get("ticket") is not None:
            frame = {**frame, "conversation": event["ticket"]}
        await self.send_json(frame)

    async def agent_disconnect(self, event):
        await self.error("signed_out", "Your session ended.")
        await self.close(code=CLOSE_FORBIDDEN)

    async def queue_changed(self, event):
        await self.send_json(await database_sync_to_async(self._snapshot)())

    async def chat_assigned(self, event):
        await self._watch(event["ticket"])
        await self.send_json(await database_sync_to_async(self._snapshot)())

    def _snapshot(self) -> dict:
        return selectors.console_snapshot(self.user)

    async def _watch(self, ticket_id: int) -> None:
        if ticket_id not in self.watching:
            self.watching.add(ticket_id)
            await self.channel_layer.group_add(broadcast.staff_group(ticket_id), self.channel_name)

    def _conversation(self, content) -> int:
        value = content.get("conversation")
        if not _is_id(value):
            raise ValidationError("'conversation' must be a ticket id.")
        return value

    @database_sync_to_async
    def _load(self, ticket_id):
        ticket = (
            Ticket.objects.select_related("customer__tier")
            .filter(pk=ticket_id, channel="chat")
            .first()
        )
        if ticket is None:
            raise ValidationError("No such chat.")
        return ticket

    async def on_hello(self, content):
        await self.send_json(await database_sync_to_async(self._snapshot)())
        for ticket_id in await database_sync_to_async(self._my_chats)():
            await self._watch(ticket_id)

    def _my_chats(self) -> list[int]:
        return list(
            Ticket.objects.filter(assignee=self.user, chat_phase=ChatPhase.AGENT).values_list(
                "pk", flat=True
            )
        )

    async def on_open(self, content):
        ticket = await self._load(self._conversation(content))
        await self._watch(ticket.pk)
        after = _optional_id(content, "after")
        detail = await database_sync_to_async(selectors.conversation_detail)(ticket, after=after)
        await self.send_json(detail)

    async def on_accept(self, content):
        ticket_id = self._conversation(content)
        won = await database_sync_to_async(chat.accept)(ticket_id=ticket_id, agent=self.user)
        if won is None:
            return await self.error("taken", "Another agent has already accepted this chat.")
        await self._watch(ticket_id)
        await self.send_json({"type": "accepted", "conversation": ticket_id})

    async def on_message(self, content):
        ticket = await self._load(self._conversation(content))
        text, client_id = _text(content), _client_id(content)
        internal = content.get("internal", False)
        if not isinstance(internal, bool):
            raise ValidationError("'internal' must be true or false.")
        posted = await database_sync_to_async(chat.agent_message)(
            ticket=ticket, agent=self.user, text=text, client_id=client_id, internal=internal
        )
        await self.send_json(
            {
                "type": "ack",
                "client_id": client_id,
                "id": posted.message.pk,
                "conversation": ticket.pk,
            }
        )

    async def on_typing(self, content):
        ticket_id = self._conversation(content)
        # Only to a chat this socket watches (opened, accepted or assigned): it exists, is a
        # chat, and costs no query on a frame sent every few seconds.
        if ticket_id not in self.watching:
            raise ValidationError("Open this chat before typing in it.")
        await self.channel_layer.group_send(
            broadcast.customer_group(ticket_id),
            {"type": "chat.frame", "frame": {"type": "typing", "author": "agent"}},
        )

    async def on_transfer(self, content):
        ticket = await self._load(self._conversation(content))
        await database_sync_to_async(self._transfer)(
            ticket, content.get("agent"), content.get("team")
        )
        await self.send_json({"type": "transferred", "conversation": ticket.pk})

    def _transfer(self, ticket, agent_id, team_slug):
        from django.contrib.auth import get_user_model

        from tickets.models import Team

        to_agent = team = None
        if agent_id is not None:
            to_agent = (
                get_user_model().objects.filter(pk=agent_id).first() if _is_id(agent_id) else None
            )
            if to_agent is None:
                raise ValidationError("No such agent.")
        elif team_slug is not None:
            team = (
                Team.objects.filter(slug=team_slug).first() if isinstance(team_slug, str) else None
            )
            if team is None:
                raise ValidationError("No such team.")
        chat.transfer(ticket=ticket, actor=self.user, to_agent=to_agent, team=team)

    async def on_end(self, content):
        ticket = await self._load(self._conversation(content))
        await database_sync_to_async(chat.end)(ticket=ticket, by=self.user)

    async def on_status(self, content):
        value = content.get("value")
        from tickets.models import AgentStatus

        if value not in AgentStatus.values:
            raise ValidationError("'value' must be available, away or offline.")
        await database_sync_to_async(self._set_status)(value)
        await self.send_json({"type": "status", "value": value})

    def _set_status(self, value):
        agent_status_set(user=self.user, status=value)
