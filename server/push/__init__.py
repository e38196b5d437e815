"""Web Push notifications for guardians (docs/notifications.md): RFC 8030 delivery, RFC 8291
message encryption, RFC 8292 VAPID, with pywebpush; no third-party account.

- the application server's VAPID key pair: server/keys.py, made by `qatys server init`;
- :mod:`server.push.subscriptions`: a phone's opt-in and opt-out (the parents' API);
- :mod:`server.push.messages`: what a message says, in the guardian's page language;
- :mod:`server.push.outbox`: messages enqueued after ingest, at closing time and on a report's
  decision, once each (dedup key);
- :mod:`server.push.sender`: :func:`~server.push.sender.deliver_due`, run by
  `qatys server notify`, and the same steps in `qatys server worker` (server/worker/).

Depends on storage, i18n and the office's closing-time default; nothing of the server
depends on it but the web layer (routes) and the commands.
"""
