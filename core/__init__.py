"""Infrastructure both apps use and neither owns: who the client is, rate limits, the socket
database thread, the channel layer, task enqueueing, staff roles. Imports no app of ours."""
