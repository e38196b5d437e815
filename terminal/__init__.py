"""The kiosk terminal: durable sealed store, door logic, enrolment and sync."""
