"""People and what they may do: web users and sign-in, projects and their members, app users
(phones) with their QR codes, the one access rule (`access`), and the audit log.

Call sites import the modules (`from collect.domain.people import access, users`) and read
`access.require(actor, "form.update", project_id)`, `users.login(...)`.
"""
