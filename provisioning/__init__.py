"""Enrolment of kindergartens, rosters and terminals: the administrator's side of setup."""
