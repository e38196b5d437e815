"""The kiosk screen: a page served on 127.0.0.1 that Chromium shows full screen at the door."""
