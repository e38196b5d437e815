"""Where terminals meet the server (protocol 2): enrolment, batches and their signed
acknowledgements, the signed requests and their freshness, every answer signed, the roster
and door credentials they take, clock corrections from health reports, the face relay's
endpoints, and the export of accepted events.

Depends on: storage, families (consent for the roster, the face relay), provisioning
(enrolment, door credentials), web (JSON answers). Nothing here renders a page.
"""
