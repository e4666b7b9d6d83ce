"""The national PH registry's receiving service for PHMS uploads.

A small service a registry runs (``docs/registry-service.md``): an ASGI app
(Starlette on uvicorn) behind TLS that requires a client certificate signed by
the registry's CA, one certificate per hospital; batches are stored in the
registry's own PostgreSQL database (schema ``registry``, its own migrations).
It shares only the export format (``phms_schema.registry_format``) with PHMS.

Modules: ``pki`` (CA and certificates), ``dbmigrate`` (its migrations),
``validate`` (the format check), ``store`` (batches, certificates, cohort),
``app`` (the ASGI app), ``server`` (uvicorn with mutual TLS), ``cli``
(the ``phms-registry`` command).
"""
