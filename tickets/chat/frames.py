"""The protocol's frames (docs/chat-protocol.md) for stored facts."""

from tickets.models import AuthorKind, Message


def message_frame(message: Message) -> dict:
    """The protocol's ``message`` frame for a stored message."""
    author = message.author
    if message.author_kind == AuthorKind.AGENT and author:
        name = author.first_name or author.get_username()
    elif message.author_kind == AuthorKind.CUSTOMER:
        name = message.ticket.customer.display_name
    else:
        name = ""
    frame = {
        "type": "message",
        "id": message.pk,
        "author": message.author_kind,
        "name": name,
        "text": message.body,
        "created": message.created_at.isoformat(),
        "articles": message.data.get("articles", []),
        "options": message.data.get("options", []),
    }
    if message.is_internal:
        frame["internal"] = True
    if message.client_id:
        frame["client_id"] = message.client_id
    return frame
