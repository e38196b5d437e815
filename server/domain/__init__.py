"""The money domain, pure: working days, the funding policy, attendance days and amounts.

Nothing here touches a database, a file or the clock; callers pass everything in. The same
inputs and policy give the same result, byte for byte (brief, invariant 7).
"""
