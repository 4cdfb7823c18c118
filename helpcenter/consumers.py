from channels.generic.websocket import AsyncJsonWebsocketConsumer


class PingConsumer(AsyncJsonWebsocketConsumer):
    """Health check of the WebSocket stack (origin check, auth, channel layer): answers ping."""

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json({"type": "error", "code": "unknown_type", "message": "Send ping."})

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        try:
            await super().receive(text_data=text_data, bytes_data=bytes_data, **kwargs)
        except ValueError:  # not JSON
            await self.send_json({"type": "error", "code": "invalid_json", "message": "Send JSON."})


class NotFoundConsumer(AsyncJsonWebsocketConsumer):
    """Any other /ws/ path: a clear close code instead of a server error at the handshake."""

    async def connect(self):
        await self.accept()
        await self.send_json({"type": "error", "code": "not_found", "message": "No such socket."})
        await self.close(code=4404)
