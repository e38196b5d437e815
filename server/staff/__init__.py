"""The people who run and pay: accounts with one role each (finance officer, director,
teacher, district operator, auditor, administrator), what each role may see, and the staff
session that the finance pages and the office pages share.

Depends on storage and web's sessions only; finance/ and office/ depend on it.
"""
